"""Live inference and benchmarking (issue 4).

The parent side (``runner``) spawns ``python -m core.inference.worker`` (optionally with another
interpreter) and talks to it over pipes in JSON lines, so a kernel that crashes or hangs ends only
the worker. ``stats`` summarises latencies, ``inputs`` makes input tensors, ``metadata`` reads the
TFLite metadata (normalization, labels), ``profile`` times single-op models cut from the graph.
Nothing here imports Qt.
"""
from __future__ import annotations

BACKENDS = ("litert", "compiled", "tflite_runtime", "tensorflow")
DELEGATES = ("xnnpack", "builtin", "reference", "gpu")  # plus "external:/path/to/delegate.so"
INPUT_SOURCES = ("random", "zeros")  # plus a path to an image, .npy or .npz file
