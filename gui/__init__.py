"""LiteLens GUI: thin Qt views over core results (one widget a module)."""
