"""The JSON contracts of ``report``, ``support`` and ``memory --json`` on every shared model: every
key path README.md documents is there. The paths are written from README.md, not from the code
that makes the JSON, so a renamed or dropped key fails here."""
from __future__ import annotations

import json

import pytest

from core.cli import main
from tests.conftest import all_shared_models, shared_model_path

# A spec is: a dict (these keys, each with its own spec), a list of one spec (every element),
# MAP of a spec (every value of an object keyed by the file's names), NULLABLE of a spec (null or
# that), or LEAF (any value).
LEAF = None


class MAP:
    def __init__(self, spec):
        self.spec = spec


class NULLABLE:
    def __init__(self, spec):
        self.spec = spec


TENSOR = {"index": LEAF, "name": LEAF, "shape": LEAF, "shape_signature": LEAF, "dtype": LEAF,
          "bytes": LEAF, "buffer": LEAF, "constant": LEAF, "variable": LEAF,
          "quantization": NULLABLE({"scale": LEAF, "zero_point": LEAF,
                                    "quantized_dimension": LEAF})}
OPERATOR = {"index": LEAF, "op": LEAF, "custom_code": LEAF, "version": LEAF, "inputs": LEAF,
            "outputs": LEAF, "options": LEAF}
SUPPORT = MAP({"runtime_reference": LEAF, "options": LEAF, "subgraphs": [{
    "index": LEAF, "partitions": LEAF, "delegated_ops": LEAF, "delegated_macs_share": LEAF,
    "ops": [{"index": LEAF, "supported": LEAF, "reason": LEAF, "partition": LEAF}],
    "partition_ops": LEAF, "blockers": LEAF}]})
PLANNED_TENSOR = {"index": LEAF, "name": LEAF, "arena": LEAF, "offset": LEAF, "bytes": LEAF,
                  "first_op": LEAF, "last_op": LEAF, "temporary": LEAF, "shares": LEAF}
MEMORY = {"config": {"threads": LEAF, "delegates": LEAF, "offsets_exact": LEAF,
                     "offsets_note": LEAF},
          "subgraphs": [{"index": LEAF, "planned_ops": LEAF, "lower_bound_bytes": LEAF,
                         "weights_bytes": LEAF, "live_bytes": LEAF, "planners": {
                             "tflite_arena": {"arena_bytes": LEAF, "lower_bound_bytes": LEAF,
                                              "persistent_bytes": LEAF,
                                              "peak_op": LEAF, "tensors": [PLANNED_TENSOR]},
                             "tflm_greedy": {"arena_bytes": LEAF, "lower_bound_bytes": LEAF,
                                             "tensors": [PLANNED_TENSOR]}}}],
          "runtime": NULLABLE({"subgraphs": [{"main_arena": LEAF, "persistent_arena": LEAF,
                                              "mismatches": LEAF}],
                               "xnnpack": LEAF})}
SCOPE: dict = {"name": LEAF, "ops": LEAF}
SCOPE["children"] = [SCOPE]
TOTALS = {"params": LEAF, "macs": LEAF, "flops": LEAF, "weight_bytes": LEAF,
          "weight_tensors": LEAF, "params_by_dtype": LEAF}
REPORT = {"litelens_version": LEAF,
          "model": {"path": LEAF, "size_bytes": LEAF, "sha256": LEAF, "schema_version": LEAF,
                    "description": LEAF, "min_runtime_version": LEAF, "metadata": LEAF,
                    "signatures": [{"key": LEAF, "subgraph": LEAF, "inputs": MAP(TENSOR),
                                    "outputs": MAP(TENSOR)}]},
          "subgraphs": [{"index": LEAF, "name": LEAF, "inputs": LEAF, "outputs": LEAF,
                         "operators": [OPERATOR], "tensors": [TENSOR], "totals": TOTALS,
                         "scopes": [SCOPE]}],
          "memory": MEMORY, "metadata": LEAF, "support": SUPPORT, "totals": TOTALS}
VERIFIED = {"verified": {"runtime": LEAF, "agree": LEAF, "total": LEAF, "disagree": LEAF}}


def missing(value, spec, where: str = "") -> list[str]:
    """Key paths of ``spec`` that ``value`` lacks (or has with the wrong shape)."""
    if spec is LEAF:
        return []
    if isinstance(spec, NULLABLE):
        return [] if value is None else missing(value, spec.spec, where)
    if isinstance(spec, MAP):
        if not isinstance(value, dict):
            return [f"{where} (not an object)"]
        return [m for k, v in value.items() for m in missing(v, spec.spec, f"{where}{{{k}}}")]
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where} (not a list)"]
        return [m for i, v in enumerate(value) for m in missing(v, spec[0], f"{where}[{i}]")]
    if not isinstance(value, dict):
        return [f"{where} (not an object)"]
    out = []
    for k, sub in spec.items():
        if k not in value:
            out.append(f"{where}.{k}")
        else:
            out += missing(value[k], sub, f"{where}.{k}")
    return out


def _json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)   # strict: NaN is refused


def test_the_spec_catches_a_missing_key():
    report = {"config": {"threads": 1, "delegates": "none", "offsets_exact": True},
              "subgraphs": [], "runtime": None}
    assert missing(report, MEMORY) == [".config.offsets_note"]


@pytest.mark.parametrize("name", all_shared_models())
def test_report_support_memory_json_keep_the_documented_keys(name, capsys):
    path = str(shared_model_path(name))
    report = _json(capsys, "report", path, "--json", "--compact")
    assert missing(report, REPORT) == []
    for sg in report["subgraphs"]:   # every op is under one top-level scope
        assert sum(n["ops"] for n in sg["scopes"]) == len(sg["operators"])
    support = _json(capsys, "support", path, "--json")
    assert missing(support, {"model": LEAF, "support": SUPPORT}) == []
    memory = _json(capsys, "memory", path, "--json")
    assert missing(memory, {"memory": MEMORY}) == []
    assert memory["memory"]["runtime"] is None   # measured only with --runtime
    # report --json carries memory as `memory --json` gives it (one thread) and support as
    # `support --json` gives it
    assert report["memory"] == memory["memory"]
    assert report["support"] == support["support"]


def test_runtime_and_verify_keys(capsys):
    path = str(shared_model_path("sine_float"))
    memory = _json(capsys, "memory", path, "--runtime", "--json")
    assert memory["memory"]["runtime"] is not None
    assert missing(memory, {"memory": MEMORY}) == []
    support = _json(capsys, "support", path, "--delegate", "xnnpack", "--verify", "--json")
    assert missing(support["support"]["xnnpack"], VERIFIED) == []
