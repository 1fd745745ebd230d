"""``litelens bench --json`` keeps its keys and their order: the key paths of real runs on the
shared models, diffed against the paths the same runs gave before results became typed (recorded
with commit 57b9819, the last untyped version), and against the keys README documents."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Recorded with commit 57b9819: key paths in order; a list's item keys as NAME[].KEY (the union
# over its items, first seen first).
# mobilenet_v2_224_float32 --runs 2
PLAIN = [
    "model", "backend", "delegate", "threads", "python", "input_source", "init_ms", "first_ms",
    "warmup_ms", "warmup_ms.runs", "warmup_ms.min", "warmup_ms.median", "warmup_ms.mean",
    "warmup_ms.std", "warmup_ms.p90", "warmup_ms.p99", "warmup_ms.max", "latency_ms",
    "latency_ms.runs", "latency_ms.min", "latency_ms.median", "latency_ms.mean", "latency_ms.std",
    "latency_ms.p90", "latency_ms.p99", "latency_ms.max", "rss_bytes", "rss_bytes.before_load",
    "rss_bytes.after_init", "rss_bytes.peak", "rss_bytes.hwm", "rss_bytes.with_profile_peak",
    "ops", "inputs", "inputs[].name", "inputs[].shape", "inputs[].dtype", "dynamic_inputs",
    "input_note", "outputs", "outputs[].name", "outputs[].shape", "outputs[].dtype",
    "outputs[].min", "outputs[].max", "outputs[].mean", "outputs[].std", "outputs[].topk",
    "last_outputs", "last_outputs[].name", "last_outputs[].shape", "last_outputs[].dtype",
    "last_outputs[].min", "last_outputs[].max", "last_outputs[].mean", "last_outputs[].std",
    "last_outputs[].topk", "reset_variables", "status", "error", "error_kind"
]
# resources/demo_model.tflite --runs 2 --profile --profile-method single-op
SINGLE_OP_PROFILE = [
    "model", "backend", "delegate", "threads", "python", "input_source", "init_ms", "first_ms",
    "warmup_ms", "warmup_ms.runs", "warmup_ms.min", "warmup_ms.median", "warmup_ms.mean",
    "warmup_ms.std", "warmup_ms.p90", "warmup_ms.p99", "warmup_ms.max", "latency_ms",
    "latency_ms.runs", "latency_ms.min", "latency_ms.median", "latency_ms.mean", "latency_ms.std",
    "latency_ms.p90", "latency_ms.p99", "latency_ms.max", "rss_bytes", "rss_bytes.before_load",
    "rss_bytes.after_init", "rss_bytes.peak", "rss_bytes.hwm", "rss_bytes.with_profile_peak",
    "ops", "ops[].index", "ops[].op", "ops[].avg_ms", "ops[].runs", "inputs", "inputs[].name",
    "inputs[].shape", "inputs[].dtype", "dynamic_inputs", "input_note", "outputs",
    "outputs[].name", "outputs[].shape", "outputs[].dtype", "outputs[].min", "outputs[].max",
    "outputs[].mean", "outputs[].std", "outputs[].topk", "last_outputs", "last_outputs[].name",
    "last_outputs[].shape", "last_outputs[].dtype", "last_outputs[].min", "last_outputs[].max",
    "last_outputs[].mean", "last_outputs[].std", "last_outputs[].topk", "reset_variables",
    "status", "error", "error_kind", "profile", "profile.method", "profile.complete",
    "profile.stopped", "profile.timed_ops", "profile.ops", "profile.untimed", "profile.sum_ms",
    "profile.whole_run_ms", "profile.sum_vs_whole_run", "profile.run_median_ms",
    "profile.sum_vs_median", "profile.by_type", "profile.by_type[].op", "profile.by_type[].count",
    "profile.by_type[].total_ms", "profile.by_type[].avg_ms", "profile.by_type[].percent",
    "profile.api", "profile.run_api"
]
# sine_float --runs 2 (a dynamic input: its shape guessed and explained)
DYNAMIC = [
    "model", "backend", "delegate", "threads", "python", "input_source", "init_ms", "first_ms",
    "warmup_ms", "warmup_ms.runs", "warmup_ms.min", "warmup_ms.median", "warmup_ms.mean",
    "warmup_ms.std", "warmup_ms.p90", "warmup_ms.p99", "warmup_ms.max", "latency_ms",
    "latency_ms.runs", "latency_ms.min", "latency_ms.median", "latency_ms.mean", "latency_ms.std",
    "latency_ms.p90", "latency_ms.p99", "latency_ms.max", "rss_bytes", "rss_bytes.before_load",
    "rss_bytes.after_init", "rss_bytes.peak", "rss_bytes.hwm", "rss_bytes.with_profile_peak",
    "ops", "inputs", "inputs[].name", "inputs[].shape", "inputs[].dtype", "dynamic_inputs",
    "dynamic_inputs[].name", "dynamic_inputs[].shape", "dynamic_inputs[].shape_signature",
    "dynamic_inputs[].dtype", "dynamic_inputs[].scale", "dynamic_inputs[].zero_point",
    "dynamic_inputs[].mean", "dynamic_inputs[].std", "dynamic_inputs[].shape_source",
    "input_note", "outputs", "outputs[].name", "outputs[].shape", "outputs[].dtype",
    "outputs[].min", "outputs[].max", "outputs[].mean", "outputs[].std", "last_outputs",
    "last_outputs[].name", "last_outputs[].shape", "last_outputs[].dtype", "last_outputs[].min",
    "last_outputs[].max", "last_outputs[].mean", "last_outputs[].std", "reset_variables",
    "status", "error", "error_kind"
]
# multi_signature_float32 --signature encode --runs 2 --profile (no per-op profile: a note)
PROFILE_NOTE = [
    "model", "backend", "delegate", "threads", "python", "input_source", "init_ms", "first_ms",
    "warmup_ms", "warmup_ms.runs", "warmup_ms.min", "warmup_ms.median", "warmup_ms.mean",
    "warmup_ms.std", "warmup_ms.p90", "warmup_ms.p99", "warmup_ms.max", "latency_ms",
    "latency_ms.runs", "latency_ms.min", "latency_ms.median", "latency_ms.mean", "latency_ms.std",
    "latency_ms.p90", "latency_ms.p99", "latency_ms.max", "rss_bytes", "rss_bytes.before_load",
    "rss_bytes.after_init", "rss_bytes.peak", "rss_bytes.hwm", "rss_bytes.with_profile_peak",
    "ops", "inputs", "inputs[].name", "inputs[].shape", "inputs[].dtype", "dynamic_inputs",
    "input_note", "outputs", "outputs[].name", "outputs[].shape", "outputs[].dtype",
    "outputs[].min", "outputs[].max", "outputs[].mean", "outputs[].std", "outputs[].topk",
    "last_outputs", "last_outputs[].name", "last_outputs[].shape", "last_outputs[].dtype",
    "last_outputs[].min", "last_outputs[].max", "last_outputs[].mean", "last_outputs[].std",
    "last_outputs[].topk", "reset_variables", "status", "error", "error_kind", "profile",
    "profile.method", "profile.note"
]


def key_paths(value, prefix: str = "") -> list[str]:
    """Every key path of a JSON value, in order. ``profile.untimed`` maps free text (op and
    reason) to counts: its keys are data, not contract."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else k
            out.append(path)
            if path != "profile.untimed":
                out += key_paths(v, path)
    elif isinstance(value, list):
        for item in value:
            out += [p for p in key_paths(item, prefix + "[]") if p not in out]
    return out


def _bench_json(*args: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "core.cli", "bench", *args, "--runs", "2",
                        "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_key_paths_of_a_plain_run(shared_model):
    assert key_paths(_bench_json(str(shared_model("mobilenet_v2_224_float32")))) == PLAIN


def test_key_paths_of_a_single_op_profile(demo_model_path):
    assert key_paths(_bench_json(str(demo_model_path), "--profile", "--profile-method",
                                 "single-op")) == SINGLE_OP_PROFILE


def test_key_paths_of_a_dynamic_input_run(shared_model):
    assert key_paths(_bench_json(str(shared_model("sine_float")))) == DYNAMIC


def test_key_paths_of_a_profile_note(shared_model):
    assert key_paths(_bench_json(str(shared_model("multi_signature_float32")), "--signature",
                                 "encode", "--profile")) == PROFILE_NOTE


def _readme_bench_key_paths() -> list[str]:
    """The key paths README's `--json` paragraph for bench documents (it lists keys as sets:
    ``"latency_ms": {"runs", ...}``, ``"ops": [{"index", ...}]``, and ``...`` for the rest)."""
    text = Path(ROOT, "README.md").read_text(encoding="utf-8")
    para = text[text.index('`--json` prints `{"backend"'):]
    para = para[:para.index("— on every failure too")]
    paths: list[str] = []
    prefixes: list[str] = []
    pushed: list[bool] = []     # whether each open bracket opened a new prefix
    pending: str | None = None  # the path of a key followed by ':'
    for m in re.finditer(r'"(\w+)"(\s*:)?|[{}\[\]]', para):
        tok = m.group(0)
        if m.group(1):
            path = ".".join(filter(None, [prefixes[-1] if prefixes else "", m.group(1)]))
            paths.append(path)
            pending = path if m.group(2) else None
        elif tok in "{[":
            new = pending + ("[]" if tok == "[" else "") if pending is not None else None
            if new is None and not prefixes:
                new = ""
            pushed.append(new is not None)
            if new is not None:
                prefixes.append(new)
            pending = None
        elif pushed.pop():
            prefixes.pop()
    return paths


def test_every_key_readme_documents_is_in_the_output():
    documented = _readme_bench_key_paths()
    # the parse found the paragraph and its nesting
    assert documented[:3] == ["backend", "delegate", "threads"]
    assert "latency_ms.median" in documented and "profile.by_type[].percent" in documented
    produced = set(PLAIN) | set(SINGLE_OP_PROFILE) | set(DYNAMIC)
    assert [p for p in documented if p not in produced] == []
