"""What to run: ``RunConfig`` (backend, delegate, threads, runs, inputs, interpreter, timeout) and
its validation, shared by the CLI, the Run panel and every worker job."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

BACKENDS = ("litert", "compiled", "tflite_runtime", "tensorflow")
# plus "external:/path/to/delegate.so"; npu-intel: the model compiled by LiteRT's Intel OpenVINO
# plugin and run through its dispatch library (CompiledModel)
DELEGATES = ("xnnpack", "builtin", "reference", "gpu", "npu-intel")


DEFAULT_HEARTBEAT_S = 30.0
PROFILE_METHODS = ("auto", "single-op")


class ConfigError(ValueError):
    """A run configuration that cannot work (bad delegate, missing interpreter, ...)."""


@dataclass
class RunConfig:
    model: str
    backend: str = "litert"
    delegate: str = "xnnpack"            # xnnpack | builtin | reference | gpu | external:PATH
    delegate_options: dict = field(default_factory=dict)
    threads: int = 1
    runs: int = 50
    warmup: int = 1
    input_source: str = "random"         # random | zeros | path to image/.npy/.npz
    shapes: dict | None = None           # {input name: [dims]} for dynamic inputs
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
        for name, v, lo in (("threads", self.threads, 1), ("runs", self.runs, 1),
                            ("warmup", self.warmup, 0)):
            if not isinstance(v, int) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, not {v!r}")
        if self.profile_method not in PROFILE_METHODS:
            raise ConfigError(f"unknown profile method {self.profile_method!r} (use "
                              f"{', '.join(PROFILE_METHODS)})")
        for name, v in (("timeout", self.timeout_s), ("heartbeat", self.heartbeat_s)):
            if v is not None and not (isinstance(v, (int, float)) and v >= 0):
                raise ConfigError(f"{name} must be a number of seconds >= 0, not {v!r}")
        for name, v in (("min_secs", self.min_secs), ("run_delay_s", self.run_delay_s)):
            if not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{name} must be a number >= 0, not {v!r}")
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

    def to_json(self) -> dict:
        return asdict(self)
