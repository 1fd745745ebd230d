"""What LiteLens computes about a model: the report, weight statistics and overlays (values per
op that the graph view paints and the CLI prints)."""
