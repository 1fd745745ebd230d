"""The worker's jobs: one module per kind of work, named in the config line (``{"job": NAME}``).

A job module has two halves:
- worker side, ``run(cfg: dict, ch: Channel, stop: threading.Event) -> None``: sends ``stage``
  before each step (crash attribution), ``hello`` once the backend is imported, its own messages,
  and ``done`` last; raises ``WorkerError`` for a failure the user should read;
- parent side, ``class Folder`` (``core.inference.job_api.JobFolder``): ``JOB``, the job's name;
  ``Folder(session)``; ``fold(msg)`` for the job's messages, ``where()`` (what was running, or
  None) and ``result()``, the job's typed result, carrying the session's ``outcome()`` (status,
  error, error_kind). Callers outside the worker package reach a job through
  ``core.inference.session`` (``WorkerSession(cfg, Folder)``, ``run_benchmark``, ...).
Modules are imported lazily: the worker imports only the job it runs, the parent only the job it
starts, so one job's dependencies never burden another.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# Job names; each is the name of its module in this package (modules not listed, such as
# ``profile``, are helpers of a job).
JOBS = (
    "bench",            # latency, memory, outputs (+ the per-op profile)
    "tensor_details",   # the runtime's view of every tensor once the model is allocated
    "quantize",         # ai-edge-quantizer + verification of its result (core.quantize.run)
    "xnnpack_placement",  # which ops the real XNNPACK delegate replaced (delegate support)
    "memory_arena",     # every tensor's address after allocation (the real arena)
    "tflm_run",         # the model on TensorFlow Lite Micro: refusal or real head/tail/outputs
    "ethos_u",          # Arm vela's compilation of the model for one Ethos-U accelerator
    "npu_plugin",       # a LiteRT NPU compiler plugin's partition / compile of the model
)


class UnknownJob(LookupError):
    """A job name that is not in ``JOBS``."""


def load(name: str) -> ModuleType:
    """The module of job ``name`` (imported on first use)."""
    if name not in JOBS:
        raise UnknownJob(f"unknown job {name!r} (known jobs: {', '.join(JOBS)})")
    return importlib.import_module(f"{__name__}.{name}")
