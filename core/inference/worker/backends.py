"""Runtimes the worker can run a model with, behind one small interface.

``InterpreterRun`` wraps the classic Interpreter API (LiteRT, tflite-runtime, TensorFlow),
``CompiledRun`` LiteRT's CompiledModel API. ``start_backend`` imports the chosen runtime and says
hello; ``load_model`` loads and allocates the model, turning what the runtime raised and logged
natively into one clear ``WorkerError``.
"""
from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from core.inference.worker.probes import NativeLog
from core.inference.worker.protocol import Channel, WorkerError

_PIP_NAMES = {"litert": "ai-edge-litert", "compiled": "ai-edge-litert",
              "tflite_runtime": "tflite-runtime", "tensorflow": "tensorflow"}


def _version(dist: str, module) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:  # e.g. a source build: the module may still know
        return str(getattr(module, "__version__", "?"))


def import_backend(name: str):
    """-> (Interpreter class, OpResolverType, load_delegate, "name version")."""
    try:
        if name in ("litert", "compiled"):
            from ai_edge_litert import interpreter as mod
            label = "ai-edge-litert " + _version("ai-edge-litert", mod)
            if name == "compiled":
                from ai_edge_litert import compiled_model  # noqa: F401
                label += " CompiledModel"
            return mod.Interpreter, mod.OpResolverType, mod.load_delegate, label
        if name == "tflite_runtime":
            import tflite_runtime
            from tflite_runtime import interpreter as mod
            return (mod.Interpreter, mod.OpResolverType, mod.load_delegate,
                    "tflite-runtime " + _version("tflite-runtime", tflite_runtime))
        if name == "tensorflow":
            import tensorflow as tf
            return (tf.lite.Interpreter, tf.lite.experimental.OpResolverType,
                    tf.lite.experimental.load_delegate, "tensorflow " + tf.__version__)
    except ImportError as e:
        raise WorkerError("backend_missing",
                          f"backend {name} is not installed in {sys.executable} ({e}); install "
                          f"it there with `{sys.executable} -m pip install {_PIP_NAMES[name]}` "
                          "or choose another Python") from None
    raise WorkerError("config", f"unknown backend {name!r} (use litert, compiled, "
                                "tflite_runtime or tensorflow)")


def start_backend(cfg: dict, ch: Channel) -> str:
    """Import numpy and the configured runtime (stage "import"), then say hello (pid, python,
    backend "name version", numpy). -> the backend key actually used: the gpu delegate of the
    litert backend is LiteRT's CompiledModel accelerator, so that is "compiled"."""
    try:
        import numpy as np
    except ImportError as e:
        raise WorkerError("backend_missing", f"numpy is not installed in {sys.executable} ({e}); "
                                             "the worker needs numpy and a backend") from None
    ch.send("stage", stage="import")
    backend = cfg.get("backend", "litert")
    if cfg.get("delegate") in ("gpu", "npu-intel") and backend == "litert":
        backend = "compiled"
    with NativeLog():
        _, _, _, label = import_backend(backend)
    ch.send("hello", pid=os.getpid(), python=sys.executable, backend=label,
            backend_key=backend, numpy=np.__version__)
    return backend


def load_model(cfg: dict, backend: str, arrays):
    """Load and allocate ``cfg["model"]`` for inputs shaped like ``arrays`` (the caller sends
    stage "load" first, so a crash in here is attributed to loading)."""
    log = NativeLog(cfg.get("native_log"))
    try:
        with log:
            runner = CompiledRun(cfg) if backend == "compiled" else InterpreterRun(backend, cfg)
            runner.allocate(arrays)
    except WorkerError:
        raise
    except Exception as e:  # noqa: BLE001 - the runtime raises anything; reported, with its log
        msg = str(e).strip() or type(e).__name__
        native = log.errors()
        if any("No adapters found" in x for x in native):
            raise WorkerError("gpu_unavailable",
                              "GPU accelerator unavailable: the LiteRT GPU (WebGPU) backend "
                              "found no GPU adapter (\"No adapters found\"); no GPU/Vulkan "
                              "device is visible to this process — use a CPU delegate") from None
        if native and len(msg) < 200:
            msg = msg + " | " + " | ".join(native[-3:])
        kind = "unresolved_op" if "unresolved custom op" in msg.lower() or \
            "didn't find op" in msg.lower() else "load"
        raise WorkerError(kind, f"{cfg['model']}: the runtime cannot load/allocate this model: "
                                f"{msg}") from None
    return runner


class InterpreterRun:
    """The classic Interpreter API (LiteRT, tflite-runtime, TensorFlow)."""
    def __init__(self, backend: str, cfg: dict, preserve_all_tensors: bool = False,
                 model_content: bytes | None = None, delegate: str | None = None):
        Interpreter, Resolver, load_delegate, _ = import_backend(backend)
        delegate = delegate or cfg["delegate"]
        kw: dict[str, Any] = {"num_threads": int(cfg["threads"])}
        delegates = []
        if delegate == "xnnpack":
            kw["experimental_op_resolver_type"] = Resolver.AUTO
        elif delegate == "builtin":
            kw["experimental_op_resolver_type"] = Resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        elif delegate == "reference":
            kw["experimental_op_resolver_type"] = Resolver.BUILTIN_REF
        elif delegate.startswith("external:"):
            lib = delegate[len("external:"):]
            if not os.path.isfile(lib):
                raise WorkerError("delegate", f"{lib}: external delegate library not found")
            try:
                delegates.append(load_delegate(lib, dict(cfg.get("delegate_options") or {})))
            except Exception as e:  # noqa: BLE001 - load_delegate raises several types
                detail = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                raise WorkerError("delegate", f"{lib}: cannot load external delegate ({detail})") \
                    from None
            kw["experimental_delegates"] = delegates
        elif delegate == "gpu":
            raise WorkerError("delegate", f"the gpu accelerator needs the LiteRT CompiledModel "
                                          f"backend (--backend compiled); with {backend} use "
                                          "external:PATH to a GPU delegate library")
        else:
            raise WorkerError("config", f"unknown delegate {delegate!r}")
        if preserve_all_tensors:
            kw["experimental_preserve_all_tensors"] = True
        src = {"model_content": model_content} if model_content is not None \
            else {"model_path": cfg["model"]}
        self.it = Interpreter(**src, **kw)
        self.inp = self.it.get_input_details()
        self.out: list[dict[str, Any]] = []   # known once allocated
        self.sig = None
        key = cfg.get("signature")
        if key is not None:
            try:
                self.sig = _SignatureTensors(self.it, key, cfg.get("input_tensors") or [])
            except ValueError as e:
                raise WorkerError("config", f"{cfg['model']}: {e}") from None

    def allocate(self, arrays) -> None:
        if self.sig is not None:
            self.sig.allocate(arrays)
            return
        it = self.it
        resized = False
        for d, a in zip(self.inp, arrays, strict=False):
            if tuple(d["shape"]) != tuple(a.shape):
                it.resize_tensor_input(d["index"], list(a.shape), strict=False)
                resized = True
        it.allocate_tensors()
        if resized:
            self.inp = it.get_input_details()
        self.out = it.get_output_details()

    def reset_fn(self, init_subgraphs: list[int]):
        """A callable that puts the model's state back as loading left it: variable tensors
        zeroed (ResetVariableTensors) and each CALL_ONCE init subgraph run again, since resource
        variables are not variable tensors and only their init subgraph resets them. The
        wrapper is looked up at each call: the interpreter refuses to allocate while a reference
        to it is held; an init subgraph is allocated before each run of it (CALL_ONCE leaves
        it not invokable)."""
        def reset() -> None:
            self.it.reset_all_variables()
            for s in init_subgraphs:
                self.it._interpreter.AllocateTensors(s)
                self.it._interpreter.Invoke(s)
        return reset

    def set_inputs(self, arrays) -> None:
        if self.sig is not None:
            self.sig.set_inputs(arrays)
            return
        for d, a in zip(self.inp, arrays, strict=False):
            self.it.set_tensor(d["index"], a)

    def invoke_fn(self):
        return self.it.invoke if self.sig is None else self.sig.invoke

    def outputs(self):
        if self.sig is not None:
            return self.sig.outputs()
        res = []
        for d in self.out:
            q = d.get("quantization") or (0.0, 0)
            res.append((d["name"], self.it.get_tensor(d["index"]), q))
        return res

    def input_details(self):
        if self.sig is not None:
            return self.sig.input_details()
        return [{"name": d["name"], "shape": [int(x) for x in d["shape"]],
                 "dtype": dtype_name(d["dtype"])} for d in self.inp]


class _SignatureTensors:
    """One SignatureDef of an Interpreter, driven tensor by tensor so a timed run is one bare
    ``Invoke(subgraph)`` (the SignatureRunner's call also resizes, allocates and copies every
    input and output each time). Uses the runner's wrapper and subgraph index, which are the
    same in LiteRT, tflite-runtime and TensorFlow."""

    def __init__(self, it, key: str, input_tensors: list[int]):
        keys = list(it.get_signature_list())
        if key not in keys:
            raise ValueError(f"no signature {key!r} (signatures: {', '.join(map(repr, keys))})")
        runner = it.get_signature_runner(key)
        self.it, self.w, self.sg = it, runner._interpreter_wrapper, runner._subgraph_index
        self.in_idx = list(input_tensors) or list(runner._inputs.values())
        self.out = list(runner._outputs)   # (signature output name, tensor index)

    def _details(self, idx: int) -> dict:
        return self.it._get_tensor_details(idx, self.sg)

    def allocate(self, arrays) -> None:
        import numpy as np
        for idx, a in zip(self.in_idx, arrays, strict=False):
            if tuple(self._details(idx)["shape"]) != tuple(a.shape):
                self.w.ResizeInputTensor(idx, np.array(a.shape, dtype=np.int32), False, self.sg)
        self.w.AllocateTensors(self.sg)

    def set_inputs(self, arrays) -> None:
        for idx, a in zip(self.in_idx, arrays, strict=False):
            self.w.SetTensor(idx, a, self.sg)

    def invoke(self) -> None:
        self.w.Invoke(self.sg)

    def outputs(self):
        res = []
        for name, idx in self.out:
            q = self._details(idx).get("quantization") or (0.0, 0)
            res.append((name, self.w.GetTensor(idx, self.sg), q))
        return res

    def input_details(self):
        return [{"name": d["name"], "shape": [int(x) for x in d["shape"]],
                 "dtype": dtype_name(d["dtype"])}
                for d in (self._details(i) for i in self.in_idx)]


# xnnpack_delegate.h: the delegate's flag bits (the default enables the two quantized paths)
XNNPACK_QS8, XNNPACK_QU8, XNNPACK_FORCE_FP16 = 0x1, 0x2, 0x4


class CompiledRun:
    """LiteRT's CompiledModel API with a HardwareAccelerator (CPU or GPU)."""
    def __init__(self, cfg: dict):
        import numpy as np
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.cpu_kernel_mode import CpuKernelMode
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options
        self.np = np
        delegate = cfg["delegate"]
        modes = {"xnnpack": CpuKernelMode.XNNPACK, "builtin": CpuKernelMode.BUILTIN,
                 "reference": CpuKernelMode.REFERENCE}
        environment, model = None, cfg["model"]
        if delegate == "gpu":
            opts = Options(hardware_accelerators=HardwareAccelerator.GPU,
                           cpu_options=CpuOptions(num_threads=int(cfg["threads"])))
        elif delegate == "npu-intel":
            # the Intel OpenVINO plugin compiles the model (for OpenVINO's CPU device, the one
            # this machine has) and LiteRT runs it through the plugin's dispatch library
            from core.inference.worker.npu_dispatch import (
                compile_for_dispatch,
                dispatch_environment,
            )
            out = Path(cfg.get("native_log") or model).parent / "npu_intel_compiled.tflite"
            model = str(compile_for_dispatch(cfg["model"], out,
                                             (cfg.get("delegate_options") or {}).get("soc", "LNL"),
                                             (cfg.get("delegate_options") or {}).get("device",
                                                                                     "cpu")))
            environment = dispatch_environment()
            opts = Options(hardware_accelerators=HardwareAccelerator.NPU | HardwareAccelerator.CPU,
                           cpu_options=CpuOptions(num_threads=int(cfg["threads"])))
        elif delegate in modes:
            xnn: dict[str, Any] = {}
            if delegate == "xnnpack" and cfg.get("xnnpack_fp16"):
                xnn["xnnpack_flags"] = XNNPACK_QS8 | XNNPACK_QU8 | XNNPACK_FORCE_FP16
            if delegate == "xnnpack" and cfg.get("xnnpack_weight_cache"):
                xnn["xnnpack_weight_cache_path"] = str(cfg["xnnpack_weight_cache"])
            opts = Options(hardware_accelerators=HardwareAccelerator.CPU,
                           cpu_options=CpuOptions(num_threads=int(cfg["threads"]),
                                                  kernel_mode=modes[delegate], **xnn))
        else:
            raise WorkerError("delegate", f"the CompiledModel backend takes delegate xnnpack, "
                                          f"builtin, reference, gpu or npu-intel, not "
                                          f"{delegate!r}")
        self.cm = CompiledModel.from_file(model, options=opts, environment=environment)
        keys = list(self.cm.get_signature_list())
        key = cfg.get("signature")
        if key is not None and key not in keys:
            raise WorkerError("config", f"{cfg['model']}: no signature {key!r} (signatures: "
                                        f"{', '.join(map(repr, keys))})")
        self.sig = key if key is not None else keys[0]
        self.sig_index = keys.index(self.sig)
        self.inp: list[Any] = []   # the runtime's tensor buffers, made by allocate()
        self.out: list[Any] = []
        self.in_details: list[dict] = []
        self.out_details: list[dict] = []

    def allocate(self, arrays) -> None:
        details = self.cm.get_input_tensor_details(self.sig)
        for k, (d, a) in enumerate(zip(details.values(), arrays, strict=False)):
            if tuple(d["shape"]) != tuple(a.shape):
                self.cm.resize_input_tensor(k, list(a.shape), self.sig_index)
        self.inp = self.cm.create_input_buffers(self.sig_index)
        self.out = self.cm.create_output_buffers(self.sig_index)
        self.in_details = list(self.cm.get_input_tensor_details(self.sig).values())
        self.out_details = list(self.cm.get_output_tensor_details(self.sig).values())

    def set_inputs(self, arrays) -> None:
        for b, a in zip(self.inp, arrays, strict=False):
            b.write(a)

    def invoke_fn(self):
        cm, inp, out, k = self.cm, self.inp, self.out, self.sig_index
        return lambda: cm.run_by_index(k, inp, out)

    def outputs(self):
        np = self.np
        res = []
        for d, b in zip(self.out_details, self.out, strict=False):
            shape = [int(x) for x in d["shape"]]
            dt = np.dtype(d["dtype"])
            arr = b.read(int(np.prod(shape)), dt).reshape(shape)
            res.append((d["name"], arr, (0.0, 0)))
        return res

    def input_details(self):
        return [{"name": d["name"], "shape": [int(x) for x in d["shape"]],
                 "dtype": str(d["dtype"])} for d in self.in_details]


def dtype_name(dt) -> str:
    """numpy's name for a runtime dtype (the runtime's own spelling if numpy does not know it)."""
    import numpy as np
    try:
        return np.dtype(dt).name
    except TypeError:
        return str(dt)
