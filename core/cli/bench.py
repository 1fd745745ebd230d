"""``litelens bench MODEL``: run a model in the isolated worker and print what the Run panel shows.

Exit codes: 0 ran, 2 bad input (unreadable model, bad option, input file that does not fit),
1 the runtime failed (cannot allocate, crashed, timed out, frozen, backend missing), 130 Ctrl-C
(the runs done so far are printed). Whenever the exit code is not 0, stderr has one line saying
why; with --json, stdout always has one JSON object (``status``, ``error``, ``error_kind``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import format as fmt
from core.cli import target
from core.cli.shapes import add_shape_option
from core.fileio import dump_json, finite_or_null
from core.inference.config import BACKENDS, DEFAULT_HEARTBEAT_S, PROFILE_METHODS
from core.inference.export import output_lines, profile_lines
from core.inference.results import ProfileNote
from core.inference.ssh_target import facts_line

if TYPE_CHECKING:
    from core.inference.config import RunConfig
    from core.inference.results import BenchResult
    from core.inference.session import BenchFolder, WorkerSession

STOP_GRACE_S = 10.0  # after Ctrl-C, how long the worker may take to finish its current step


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="run and benchmark a model in an isolated worker")
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument("--backend", default="litert", choices=BACKENDS,
                   help="litert (ai_edge_litert Interpreter, default), compiled (LiteRT "
                        "CompiledModel), tflite_runtime, tensorflow")
    p.add_argument("--delegate", default="xnnpack", metavar="D",
                   help="xnnpack (default), builtin, reference, gpu, or external:PATH.so")
    p.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE",
                   help="option for an external delegate (repeatable)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--input", default="random", metavar="SRC",
                   help="random (default), zeros, or an image / .npy / .npz file")
    add_shape_option(p)
    p.add_argument("--profile", action="store_true", help="per-op latency profile")
    p.add_argument("--profile-method", default="auto", choices=PROFILE_METHODS,
                   help="auto: LiteRT's own op profiler where the backend has it, else "
                        "single-op models timed one by one; single-op: always the latter")
    p.add_argument("--min-secs", type=float, default=0.0, metavar="S",
                   help="keep running past --runs until S seconds have passed")
    p.add_argument("--max-secs", type=float, default=None, metavar="S",
                   help="stop the timed runs after S seconds, even before --runs")
    p.add_argument("--run-delay", type=float, default=0.0, metavar="S",
                   help="pause S seconds between timed runs (not timed)")
    p.add_argument("--reset-variables", action="store_true",
                   help="streaming models: reset the variables (state) before every timed run "
                        "(not timed); by default the state is kept from run to run")
    p.add_argument("--xnnpack-fp16", action="store_true",
                   help="XNNPACK: force fp16 inference for fp32 ops (--backend compiled)")
    p.add_argument("--xnnpack-weight-cache", default=None, metavar="FILE",
                   help="XNNPACK: keep packed weights in FILE (--backend compiled)")
    p.add_argument("--signature", default=None, metavar="KEY",
                   help="run this SignatureDef (default: subgraph 0, the main graph)")
    p.add_argument("--python", default=None, metavar="PATH",
                   help="run the worker with this Python (e.g. a tflite-runtime venv)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="kill the worker after this many seconds")
    p.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT_S, metavar="SECONDS",
                   help="kill a worker that sends nothing, not even its 1 s heartbeat, for this "
                        f"long (default {DEFAULT_HEARTBEAT_S:g}; 0 = wait forever)")
    p.add_argument("--keep-tensors", action="store_true",
                   help="after the runs, keep every tensor of subgraph 0 from one more inference "
                        "with the builtin kernels (for --save-tensors)")
    p.add_argument("--save-tensors", default=None, metavar="DIR",
                   help="write the first inference's outputs (and the kept tensors) as .npy "
                        "files in DIR, made if missing; an existing file is never replaced")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    target.add_arguments(p, several=True)
    p.set_defaults(func=_bench)


def _fail(args: argparse.Namespace, message: str, kind: str, code: int = 2,
          address: str | None = None) -> int:
    """A run that never started: one stderr line, and with --json one JSON object on stdout."""
    message = fmt.one_line(message)
    if args.json:
        out = {"model": args.model, "status": "error", "error": message, "error_kind": kind}
        if address:
            out["target"] = {"address": address, "facts": None}
        dump_json(out, sys.stdout)
        sys.stdout.write("\n")
    print(f"litelens: error: {message}", file=sys.stderr)
    return code


def _config(args: argparse.Namespace) -> RunConfig:
    from core.inference.config import RunConfig, parse_options
    from core.inference.inputs import parse_shapes
    shapes = parse_shapes(args.shape or []) or None
    return RunConfig(model=args.model, backend=args.backend, delegate=args.delegate,
                     delegate_options=parse_options(args.delegate_option),
                     threads=args.threads, runs=args.runs, warmup=args.warmup,
                     input_source=args.input, shapes=shapes, profile=args.profile,
                     profile_method=args.profile_method,
                     python_exe=args.python, timeout_s=args.timeout,
                     heartbeat_s=args.heartbeat or None,
                     signature=args.signature, min_secs=args.min_secs,
                     max_secs=args.max_secs, run_delay_s=args.run_delay,
                     reset_variables=args.reset_variables,
                     xnnpack_fp16=args.xnnpack_fp16,
                     xnnpack_weight_cache=args.xnnpack_weight_cache,
                     keep_tensors=args.keep_tensors)


def _session(args: argparse.Namespace, address: str | None) -> WorkerSession[BenchFolder]:
    """The session for one target (None or 'local': this machine); raises what _bench reports."""
    from core.inference.remote import bench_session
    from core.inference.ssh_target import TargetError
    board = target.target(args, address)
    if board is not None and args.python:
        raise TargetError("config", "--python names an interpreter on this machine; on a board "
                                    "use --remote-python PATH")
    return bench_session(_config(args), target=board)


def _bench(args: argparse.Namespace) -> int:
    from core.errors import ModelError
    from core.inference.config import ConfigError
    from core.inference.inputs import InputError
    from core.inference.ssh_target import TargetError
    if len(args.target) > 1:
        if args.save_tensors:
            return _fail(args, "--save-tensors takes one target's run, not a sweep", "config")
        return _sweep(args)
    if args.save_tensors and Path(args.save_tensors).exists() and \
            not Path(args.save_tensors).is_dir():
        return _fail(args, f"{args.save_tensors}: is not a folder (--save-tensors DIR)", "config")
    address = args.target[0] if args.target else None
    try:
        session = _session(args, address)
    except ModelError as e:
        return _fail(args, str(e), "model")
    except InputError as e:
        return _fail(args, str(e), "input")
    except TargetError as e:
        return _fail(args, str(e), e.kind, address=address)
    except (ConfigError, ValueError) as e:
        return _fail(args, str(e), "config")
    try:
        session.start()
    except TargetError as e:   # the board cannot run it: unreachable, refused, no runtime...
        return _fail(args, str(e), e.kind, code=1, address=address)
    except OSError as e:  # --python names a file the system cannot execute
        return _fail(args, f"{session.cfg.python_exe or sys.executable}: cannot start the worker "
                           f"({e.strerror or e})", "config")
    interrupted = False
    try:
        session.run_to_end()
    except KeyboardInterrupt:
        _interrupted(session)
        interrupted = True
    res = session.job.result()
    if args.json:
        dump_json(finite_or_null(res.to_json()), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(format_text(res))
    if interrupted:
        print(f"litelens: interrupted: kept {len(session.job.latencies_ms)} timed runs",
              file=sys.stderr)
        return 130
    if res.error:
        print(f"litelens: error: {res.error}", file=sys.stderr)
        return 1
    if args.save_tensors:
        return _save_tensors(res, args.save_tensors)
    return 0


def _save_tensors(res: BenchResult, folder: str) -> int:
    """--save-tensors: the run's tensors as .npy files; one line on stderr either way."""
    from core.inference.tensor_values import save_all
    try:
        paths = save_all(res.tensors, folder)
    except OSError as e:   # OutputExists (a taken name), a folder that cannot be made
        print(f"litelens: error: {fmt.one_line(str(e))}", file=sys.stderr)
        return 1
    note = f" ({res.tensors_note})" if res.tensors_note else ""
    print(f"litelens: saved {len(paths)} tensor(s) to {folder}{note}", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """One configuration on several targets at once; results side by side (``--json``:
    ``{"sweep": [result per target, in the order given]}``)."""
    from core.inference.ssh_target import TargetError
    from core.inference.sweep import Sweep
    try:
        sweep = Sweep([(a, _session_factory(args, a)) for a in args.target])
    except TargetError as e:
        return _fail(args, str(e), e.kind)
    interrupted = False
    try:
        sweep.run()
    except KeyboardInterrupt:
        interrupted = True
        sweep.stop()
        try:
            sweep.finish(STOP_GRACE_S)
        except KeyboardInterrupt:
            pass
        sweep.kill()
    results = sweep.results()
    if args.json:
        dump_json(finite_or_null({"model": args.model, "sweep": results}), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(sweep_text(results))
    for r in results:
        if r["error"]:
            print(f"litelens: error: {r['target']['address']}: {r['error']}", file=sys.stderr)
    if interrupted:
        return 130
    return 1 if any(r["error"] for r in results) else 0


def _session_factory(args: argparse.Namespace, address: str):
    from core.errors import ModelError
    from core.inference.config import ConfigError
    from core.inference.inputs import InputError
    from core.inference.ssh_target import TargetError
    try:
        return _session(args, address)
    except TargetError:
        raise
    except (ModelError, InputError, ConfigError) as e:
        raise TargetError("config", str(e)) from None


def sweep_text(results: list[dict]) -> str:
    """One row per target: status, init, median, p90, peak RSS, and the board's facts."""
    ms = fmt.duration_ms
    rows = [f"{'target':<34} {'status':<8} {'init':>10} {'median':>10} {'p90':>10} {'peak RSS':>10}"]
    for r in results:
        lat = r.get("latency_ms") or {}
        rss = (r.get("rss_bytes") or {}).get("peak")
        rows.append(f"{fmt.printable(r['target']['address'], 34):<34} {r['status']:<8} "
                    f"{ms(r['init_ms']) if r.get('init_ms') is not None else '-':>10} "
                    f"{ms(lat['median']) if lat.get('median') is not None else '-':>10} "
                    f"{ms(lat['p90']) if lat.get('p90') is not None else '-':>10} "
                    f"{_size(rss):>10}")
    for r in results:
        if r["target"].get("facts"):
            rows.append(f"  {r['target']['address']}: {facts_line(r['target']['facts'])}")
        if r["error"]:
            rows.append(f"  {r['target']['address']}: error: {r['error']}")
    return "\n".join(rows)


def _interrupted(session: WorkerSession[BenchFolder]) -> None:
    """Ctrl-C: ask the worker to stop after its current step and keep what it measured; a second
    Ctrl-C, or a worker that does not stop within STOP_GRACE_S, is killed."""
    session.stop()
    deadline = time.monotonic() + STOP_GRACE_S
    try:
        while not session.finished and time.monotonic() < deadline:
            session.wait(0.1)
    except KeyboardInterrupt:
        pass
    if not session.finished:
        session.kill()
        while not session.finished:
            session.wait(0.1)


def _size(b: int | None) -> str:
    return fmt.size(b) if b else "-"


def format_text(r: BenchResult) -> str:
    ms = fmt.duration_ms
    lines = [f"model     {r.model}",
             f"backend   {r.backend}  delegate {r.delegate}  threads {r.threads}"]
    if r.runtime_note:
        lines.append(f"note      {r.runtime_note}")
    if r.init_ms is not None:
        lines.append(f"init      {ms(r.init_ms)}   first inference {ms(r.first_ms)}")
    lat, w = r.latency_ms, r.warmup_ms
    if w.runs:
        lines.append(f"warmup    {w.runs} runs, mean {ms(w.mean)}")
    if lat.runs:
        stats: list[tuple[str, Any]] = [("min", lat.min), ("median", lat.median),
                                        ("mean", lat.mean), ("std", lat.std), ("p90", lat.p90),
                                        ("p99", lat.p99), ("max", lat.max)]
        lines.append(f"latency   {lat.runs} runs: " + "  ".join(f"{k} {ms(v)}" for k, v in stats))
    rss = r.rss_bytes
    lines.append(f"memory    before load {_size(rss.before_load)}  after init "
                 f"{_size(rss.after_init)}  peak {_size(rss.peak)}  (high-water "
                 f"{_size(rss.hwm)})")
    lines += [("          " if line.startswith(" ") else "output    ") + line
              for line in output_lines(r.outputs)]
    prof = r.summary
    if r.ops and prof is not None:
        lines += ["per-op    " + line for line in profile_lines(prof)]
        for t in prof.by_type[:10]:
            lines.append(f"  type {fmt.printable(t.op, 24):<24} x{t.count:<4} "
                         f"{ms(t.total_ms)}  {t.percent:.1f}%")
        top = sorted((o for o in r.ops if o.avg_ms is not None),
                     key=lambda o: -(o.avg_ms or 0.0))[:10]
        for o in top:
            lines.append(f"  op {o.index:>4} {fmt.printable(o.op, 24):<24} {ms(o.avg_ms)}")
    elif isinstance(r.profile, ProfileNote):
        lines.append(f"per-op    {r.profile.note}")
    if r.input_note:
        lines.append(f"note      {r.input_note}")
    if r.target:
        lines.append(f"target    {r.target['address']}"
                     + (f"  {facts_line(r.target['facts'])}" if r.target["facts"] else ""))
    if r.error:
        lines.append(f"error     {r.error}")
    return "\n".join(lines)
