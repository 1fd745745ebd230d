"""The worker process: ``python -m core.inference.worker`` (any interpreter with numpy + a backend).

Reads one JSON config line on stdin, loads the backend and the model, runs, and streams small JSON
messages (one a line) on its original stdout; native code that prints to stdout is redirected to
stderr so it cannot corrupt the protocol. A ``{"cmd": "stop"}`` line (or EOF) on stdin stops the run
after the current inference. If a kernel crashes, only this process dies: the parent reads the
signal from the exit status and reports the stage/op from the last progress message.

Messages (key ``t``): hello, stage, init, first, lat, outputs, rss, op, ops, done, error.
Imports only the standard library, numpy and the chosen backend (plus ``core`` when profiling).
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
import traceback

RSS_PERIOD_S = 0.05        # memory footprint sampled every 50 ms, as benchmark_model does
FLUSH_PERIOD_NS = 50_000_000
TOPK = 5


class WorkerError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# -- protocol ---------------------------------------------------------------------------------
class Channel:
    def __init__(self):
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)           # native stdout chatter goes to stderr
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def send(self, t: str, **kw) -> None:
        line = json.dumps({"t": t, **kw}, separators=(",", ":"))
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        try:
            import psutil
            return int(psutil.Process().memory_info().rss)
        except Exception:
            return 0


def _hwm_bytes() -> int:
    """The kernel's peak-RSS mark of this process.

    On Linux, VmHWM of /proc/self/status: ru_maxrss would be wrong here, because the kernel
    carries it over fork+exec, so a worker started by a large parent (the GUI, a benchmark
    holding big graphs) would report the parent's size."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(kb) * (1 if sys.platform == "darwin" else 1024)
    except Exception:
        return 0


class RssSampler(threading.Thread):
    def __init__(self, ch: Channel):
        super().__init__(daemon=True, name="rss-sampler")
        self.ch, self.t0, self.peak = ch, time.monotonic(), 0
        self._halt = threading.Event()

    def sample(self) -> int:
        rss = _rss_bytes()
        self.peak = max(self.peak, rss)
        return rss

    def run(self) -> None:
        while not self._halt.wait(RSS_PERIOD_S):
            rss = self.sample()
            self.ch.send("rss", s=round(time.monotonic() - self.t0, 3), b=rss)

    def halt(self) -> None:
        self._halt.set()


class NativeLog:
    """Capture fd 2 (where LiteRT logs) during a block, then forward it to the real stderr.

    With ``path`` the capture is a file the parent can read if the runtime kills the process
    inside the block (an abort during allocation leaves its last words there)."""
    def __init__(self, path: str | None = None):
        self.path = path

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._tmp = open(self.path, "w+b") if self.path else tempfile.TemporaryFile()
        os.dup2(self._tmp.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        if self.text:
            sys.stderr.write(self.text)
            sys.stderr.flush()
        return False

    def errors(self) -> list[str]:
        keep = []
        for line in self.text.splitlines():
            s = line.strip()
            if re.search(r"\b(ERROR|Error|error|Failed|failed|unresolved)\b", s) and s not in keep:
                keep.append(s)
        return keep


# -- backends ---------------------------------------------------------------------------------
def _version(dist: str, module) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return str(getattr(module, "__version__", "?"))


def import_backend(name: str):
    """-> (interpreter module-like namespace, "name version")."""
    try:
        if name in ("litert", "compiled"):
            from ai_edge_litert import interpreter as mod
            label = "ai-edge-litert " + _version("ai-edge-litert", mod)
            if name == "compiled":
                from ai_edge_litert import compiled_model  # noqa: F401
                label += " CompiledModel"
            return mod.Interpreter, mod.OpResolverType, mod.load_delegate, label
        if name == "tflite_runtime":
            from tflite_runtime import interpreter as mod
            import tflite_runtime
            return (mod.Interpreter, mod.OpResolverType, mod.load_delegate,
                    "tflite-runtime " + _version("tflite-runtime", tflite_runtime))
        if name == "tensorflow":
            import tensorflow as tf
            return (tf.lite.Interpreter, tf.lite.experimental.OpResolverType,
                    tf.lite.experimental.load_delegate, "tensorflow " + tf.__version__)
    except ImportError as e:
        pip = {"litert": "ai-edge-litert", "compiled": "ai-edge-litert",
               "tflite_runtime": "tflite-runtime", "tensorflow": "tensorflow"}[name]
        raise WorkerError("backend_missing",
                          f"backend {name} is not installed in {sys.executable} ({e}); install "
                          f"it there with `{sys.executable} -m pip install {pip}` or choose "
                          "another Python") from None
    raise WorkerError("config", f"unknown backend {name!r} (use litert, compiled, "
                                "tflite_runtime or tensorflow)")


class InterpreterRun:
    """The classic Interpreter API (LiteRT, tflite-runtime, TensorFlow)."""
    def __init__(self, backend: str, cfg: dict, preserve_all_tensors: bool = False,
                 model_content: bytes | None = None, delegate: str | None = None):
        Interpreter, Resolver, load_delegate, _ = import_backend(backend)
        delegate = delegate or cfg["delegate"]
        kw = {"num_threads": int(cfg["threads"])}
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
        self.out = None

    def allocate(self, arrays) -> None:
        it = self.it
        resized = False
        for d, a in zip(self.inp, arrays):
            if tuple(d["shape"]) != tuple(a.shape):
                it.resize_tensor_input(d["index"], list(a.shape), strict=False)
                resized = True
        it.allocate_tensors()
        if resized:
            self.inp = it.get_input_details()
        self.out = it.get_output_details()

    def set_inputs(self, arrays) -> None:
        for d, a in zip(self.inp, arrays):
            self.it.set_tensor(d["index"], a)

    def invoke_fn(self):
        return self.it.invoke

    def outputs(self):
        res = []
        for d in self.out:
            q = d.get("quantization") or (0.0, 0)
            res.append((d["name"], self.it.get_tensor(d["index"]), q))
        return res

    def input_details(self):
        return [{"name": d["name"], "shape": [int(x) for x in d["shape"]],
                 "dtype": _dtype_name(d["dtype"])} for d in self.inp]


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
        if delegate == "gpu":
            opts = Options(hardware_accelerators=HardwareAccelerator.GPU,
                           cpu_options=CpuOptions(num_threads=int(cfg["threads"])))
        elif delegate in modes:
            opts = Options(hardware_accelerators=HardwareAccelerator.CPU,
                           cpu_options=CpuOptions(num_threads=int(cfg["threads"]),
                                                  kernel_mode=modes[delegate]))
        else:
            raise WorkerError("delegate", f"the CompiledModel backend takes delegate xnnpack, "
                                          f"builtin, reference or gpu, not {delegate!r}")
        self.cm = CompiledModel.from_file(cfg["model"], options=opts)
        self.sig = list(self.cm.get_signature_list())[0]
        self.inp = self.out = None

    def allocate(self, arrays) -> None:
        details = self.cm.get_input_tensor_details(self.sig)
        for k, (d, a) in enumerate(zip(details.values(), arrays)):
            if tuple(d["shape"]) != tuple(a.shape):
                self.cm.resize_input_tensor(k, list(a.shape), 0)
        self.inp = self.cm.create_input_buffers(0)
        self.out = self.cm.create_output_buffers(0)
        self.in_details = list(self.cm.get_input_tensor_details(self.sig).values())
        self.out_details = list(self.cm.get_output_tensor_details(self.sig).values())

    def set_inputs(self, arrays) -> None:
        for b, a in zip(self.inp, arrays):
            b.write(a)

    def invoke_fn(self):
        cm, inp, out = self.cm, self.inp, self.out
        return lambda: cm.run_by_index(0, inp, out)

    def outputs(self):
        np = self.np
        res = []
        for d, b in zip(self.out_details, self.out):
            shape = [int(x) for x in d["shape"]]
            dt = np.dtype(d["dtype"])
            arr = b.read(int(np.prod(shape)), dt).reshape(shape)
            res.append((d["name"], arr, (0.0, 0)))
        return res

    def input_details(self):
        return [{"name": d["name"], "shape": [int(x) for x in d["shape"]],
                 "dtype": str(d["dtype"])} for d in self.in_details]


def _dtype_name(dt) -> str:
    try:
        import numpy as np
        return np.dtype(dt).name
    except TypeError:
        return str(dt)


def summarize_outputs(outs) -> list[dict]:
    import numpy as np
    res = []
    for name, arr, (scale, zp) in outs:
        a = np.asarray(arr)
        info = {"name": name, "shape": list(a.shape), "dtype": a.dtype.name}
        if a.dtype.kind in "biuf" and a.size:
            real = a.astype(np.float64)
            if scale:
                real = (real - zp) * scale
            flat = real.reshape(-1)
            info.update(min=float(flat.min()), max=float(flat.max()), mean=float(flat.mean()),
                        std=float(flat.std()))
            squeezed = [d for d in a.shape if d != 1]
            if len(squeezed) == 1 and 1 < squeezed[0] <= 100_000:
                k = min(TOPK, flat.size)
                top = np.argsort(-flat, kind="stable")[:k]
                info["topk"] = [[int(i), float(flat[i])] for i in top]
        res.append(info)
    return res


# -- main -------------------------------------------------------------------------------------
def _stdin_listener(stop: threading.Event) -> None:
    for line in sys.stdin:
        try:
            if json.loads(line).get("cmd") == "stop":
                break
        except ValueError:
            continue
    stop.set()  # a stop command, or EOF: the parent is gone or wants us to finish


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    try:
        import numpy as np
    except ImportError as e:
        raise WorkerError("backend_missing", f"numpy is not installed in {sys.executable} ({e}); "
                                             "the worker needs numpy and a backend") from None
    stage = "import"
    ch.send("stage", stage=stage)
    backend = cfg.get("backend", "litert")
    if cfg.get("delegate") == "gpu" and backend == "litert":
        backend = "compiled"
    with NativeLog():
        _, _, _, label = import_backend(backend)
    sampler = RssSampler(ch)
    rss_before = sampler.sample()
    sampler.start()
    ch.send("hello", pid=os.getpid(), python=sys.executable, backend=label,
            backend_key=backend, numpy=np.__version__)

    from core.inference.inputs import load_inputs  # numpy only
    arrays = load_inputs(cfg["inputs"])

    ch.send("stage", stage="load")
    t0 = time.perf_counter_ns()
    log = NativeLog(cfg.get("native_log"))
    try:
        with log:
            runner = CompiledRun(cfg) if backend == "compiled" else InterpreterRun(backend, cfg)
            runner.allocate(arrays)
    except WorkerError:
        raise
    except Exception as e:  # the runtime's own words, plus what it logged natively
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
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    runner.set_inputs(arrays)
    rss_init = sampler.sample()
    ch.send("init", init_ms=init_ms, rss_before_load=rss_before, rss_after_init=rss_init,
            inputs=runner.input_details())

    invoke = runner.invoke_fn()
    perf = time.perf_counter_ns
    ch.send("stage", stage="first")
    t0 = perf()
    invoke()
    first_ms = (perf() - t0) / 1e6
    ch.send("first", ms=first_ms)
    ch.send("outputs", outputs=summarize_outputs(runner.outputs()))

    def loop(phase: str, n: int) -> int:
        ch.send("stage", stage=phase)
        buf, start, done = [], 0, 0
        last = perf()
        for i in range(n):
            if stop.is_set():
                break
            t0 = perf()
            invoke()
            t1 = perf()
            buf.append((t1 - t0) / 1e6)
            done = i + 1
            if t1 - last >= FLUSH_PERIOD_NS:
                ch.send("lat", phase=phase, start=start, ms=buf)
                start, buf, last = done, [], perf()
        if buf:
            ch.send("lat", phase=phase, start=start, ms=buf)
        return done

    loop("warmup", int(cfg.get("warmup", 1)))
    runs_done = loop("run", int(cfg.get("runs", 50)))

    if cfg.get("profile") and not stop.is_set():
        ch.send("stage", stage="profile")
        try:
            import core.model.builder  # noqa: F401
            import core.model.reader  # noqa: F401
            from core.inference.profile import profile_ops
        except ImportError as e:  # the model reader needs ai_edge_litert's schema + flatbuffers
            ch.send("ops", ops=[], method="", note=f"no per-op profile: LiteLens' model reader "
                                                   f"cannot be imported in {sys.executable} ({e})")
        else:
            profile_ops(cfg, backend, arrays, ch, stop)

    sampler.halt()
    ch.send("done", runs=runs_done, stopped=stop.is_set(), rss_peak=max(sampler.peak,
                                                                        sampler.sample()),
            rss_hwm=_hwm_bytes())


def main() -> int:
    ch = Channel()
    line = sys.stdin.readline()
    try:
        cfg = json.loads(line)
    except ValueError:
        ch.send("error", kind="config", message="worker: no valid JSON config on stdin")
        return 2
    stop = threading.Event()
    threading.Thread(target=_stdin_listener, args=(stop,), daemon=True).start()
    try:
        run(cfg, ch, stop)
    except WorkerError as e:
        ch.send("error", kind=e.kind, message=str(e))
        return 3
    except Exception as e:  # noqa: BLE001 - reported to the parent, never a raw traceback in UI
        traceback.print_exc()
        ch.send("error", kind="internal", message=f"{type(e).__name__}: {e}")
        return 3
    return 0


if __name__ == "__main__":
    # Make ``core`` importable when started by path or by another interpreter.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))))
    sys.exit(main())
