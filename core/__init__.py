"""LiteLens core: reading, analysing and running .tflite models. Never imports Qt."""
from __future__ import annotations

__version__ = "0.1.0"

from core.errors import ModelError  # noqa: E402

__all__ = ["ModelError", "__version__"]
