"""The worker process (``python -m core.inference.worker``): runs one job in isolation.

``protocol`` is the JSON-lines channel and its errors, ``backends`` loads a runtime and a model,
``probes`` measures the process (RSS, high-water mark, native log capture), ``jobs`` holds one
module per kind of work. Everything here imports only the standard library, numpy and the chosen
backend when the worker starts, because it runs under other interpreters too (e.g. a numpy<2 venv
with tflite-runtime and no ai_edge_litert); a job imports ``core.model`` lazily if it needs it.
"""
