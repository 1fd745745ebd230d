"""What to run: ``RunConfig`` (backend, delegate, threads, runs, inputs, interpreter, timeout) and
its validation, shared by the CLI, the Run panel and every worker job."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

BACKENDS = ("litert", "compiled", "tflite_runtime", "tensorflow")
# the API each backend runs a model through, in words (a per-op profile may use another one)
BACKEND_APIS = {"litert": "LiteRT Interpreter", "compiled": "LiteRT CompiledModel",
                "tflite_runtime": "tflite-runtime Interpreter",
                "tensorflow": "TensorFlow Lite Interpreter"}
# plus "external:/path/to/delegate.so"; npu-intel: the model compiled by LiteRT's Intel OpenVINO
# plugin and run through its dispatch library (CompiledModel)
DELEGATES = ("xnnpack", "builtin", "reference", "gpu", "npu-intel")


DEFAULT_HEARTBEAT_S = 30.0
PROFILE_METHODS = ("auto", "single-op")
# The most threads a run may ask for (bench, quantize, memory). A fixed bound, not this machine's
# core count: a run may go to a board over SSH with more cores than this one, and more threads
# than cores is a legitimate experiment. 1024 is above any CPU LiteRT runs on (the largest
# servers have 384 hardware threads) and far below what exhausts a process's threads; without a
# bound, --threads 100000 had the worker create that many pool threads.
MAX_THREADS = 1024


class ConfigError(ValueError):
    """A run configuration that cannot work (bad delegate, missing interpreter, ...)."""


def parse_options(items: Iterable[str]) -> dict[str, str]:
    """``["key=value", ...]`` (the CLI's repeated ``--delegate-option``, the Run panel's field
    split on ';'; blank items skipped) -> {key: value}. Raises ConfigError for an item without
    '=' or without a key: both front ends say the same line."""
    out: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"delegate option {item.strip()!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def check_threads(threads: object) -> None:
    """ConfigError unless ``threads`` is an integer in 1..MAX_THREADS (shared by every command
    that takes --threads)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or not \
            1 <= threads <= MAX_THREADS:
        raise ConfigError(f"threads must be an integer from 1 to {MAX_THREADS}, not {threads!r}")


@dataclass
class RunConfig:
    model: str
    backend: str = "litert"
    delegate: str = "xnnpack"            # xnnpack | builtin | reference | gpu | external:PATH
    delegate_options: dict[str, str] = field(default_factory=dict)
    threads: int = 1
    runs: int = 50
    warmup: int = 1
    input_source: str = "random"         # random | zeros | path to image/.npy/.npz
    shapes: dict[str, list[int]] | None = None  # {input name: [dims]} for dynamic inputs
    profile: bool = False
    profile_method: str = "auto"         # auto (runtime profiler, else single-op) | single-op
    profile_runs: int = 20
    python_exe: str | None = None        # another interpreter (tflite-runtime / TF venv)
    timeout_s: float | None = None       # kill the worker after this many seconds
    # kill the worker when it sends nothing (not even its 1 s heartbeat) for this long: it is
    # frozen (stopped, deadlocked, stuck in native code holding the GIL). None or 0: never.
    heartbeat_s: float | None = DEFAULT_HEARTBEAT_S
    signature: str | None = None         # SignatureDef key to run (None: subgraph 0)
    # as benchmark_model's --min_secs / --max_secs / --run_delay: keep running past ``runs``
    # until min_secs have passed, stop early at max_secs, pause between runs (not timed)
    min_secs: float = 0.0
    max_secs: float | None = None
    run_delay_s: float = 0.0
    # streaming (stateful) models keep their variables from run to run; True puts them back as
    # loading left them before every timed run (not timed): variable tensors zeroed, each
    # CALL_ONCE init subgraph run again (resource variables)
    reset_variables: bool = False
    # XNNPACK options, where the runtime exposes them (LiteRT's CompiledModel CPU options)
    xnnpack_fp16: bool = False             # force fp16 inference for fp32 operators
    xnnpack_weight_cache: str | None = None  # file where XNNPACK keeps its packed weights
    # after the runs, send every tensor of subgraph 0 from one more inference that keeps them all
    keep_tensors: bool = False

    def label(self) -> str:
        py = f" @{self.python_exe}" if self.python_exe else ""
        return f"{self.backend}/{self.delegate}/{self.threads}t{py}"

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r} (use {', '.join(BACKENDS)})")
        if self.delegate not in DELEGATES and not self.delegate.startswith("external:"):
            raise ConfigError(f"unknown delegate {self.delegate!r} (use "
                              f"{', '.join(DELEGATES)} or external:PATH)")
        if self.delegate.startswith("external:"):
            lib = self.delegate[len("external:"):]
            if not lib or not Path(lib).is_file():
                raise ConfigError(f"{lib or '(empty path)'}: external delegate library not found")
        if self.delegate == "gpu" and self.backend not in ("litert", "compiled"):
            raise ConfigError(f"the gpu accelerator is LiteRT's CompiledModel API; backend "
                              f"{self.backend} can use a GPU delegate through external:PATH")
        if self.delegate == "npu-intel" and self.backend not in ("litert", "compiled"):
            raise ConfigError(f"npu-intel runs through LiteRT's CompiledModel API (backend "
                              f"compiled), not {self.backend}")
        check_threads(self.threads)
        for name, count, lo in (("runs", self.runs, 1), ("warmup", self.warmup, 0)):
            if isinstance(count, bool) or not isinstance(count, int) or count < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, not {count!r}")
        if self.profile_method not in PROFILE_METHODS:
            raise ConfigError(f"unknown profile method {self.profile_method!r} (use "
                              f"{', '.join(PROFILE_METHODS)})")
        for name, limit in (("timeout", self.timeout_s), ("heartbeat", self.heartbeat_s)):
            if limit is not None and not (isinstance(limit, (int, float)) and limit >= 0):
                raise ConfigError(f"{name} must be a number of seconds >= 0, not {limit!r}")
        for name, secs in (("min_secs", self.min_secs), ("run_delay_s", self.run_delay_s)):
            if not isinstance(secs, (int, float)) or secs < 0:
                raise ConfigError(f"{name} must be a number >= 0, not {secs!r}")
        if self.max_secs is not None and (not isinstance(self.max_secs, (int, float))
                                          or self.max_secs <= 0):
            raise ConfigError(f"max_secs must be a number > 0, not {self.max_secs!r}")
        if (self.xnnpack_fp16 or self.xnnpack_weight_cache) and not (
                self.backend == "compiled" and self.delegate == "xnnpack"):
            raise ConfigError("XNNPACK options (force fp16, weight cache) are exposed by LiteRT's "
                              "CompiledModel API only: use backend compiled with delegate "
                              "xnnpack (the Interpreter API has no such settings)")
        if self.xnnpack_fp16 and self.xnnpack_weight_cache:
            # measured with ai-edge-litert 2.3: the worker aborts in weight_cache.cc ("An invalid
            # pack identifier was created")
            raise ConfigError("XNNPACK cannot combine force fp16 with a weight cache (the "
                              "runtime aborts while packing); choose one")
        if self.python_exe and not (Path(self.python_exe).is_file()
                                    and os.access(self.python_exe, os.X_OK)):
            raise ConfigError(f"{self.python_exe}: no such Python interpreter")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
