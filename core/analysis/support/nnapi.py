"""NNAPI rules: the per-op table (resources/ops/delegates/nnapi.json) summarises
``NNAPIDelegateKernel::Validate`` (op version, introducing API level, input type family, rank); the
Android API level is an option because it changes most answers."""
from __future__ import annotations

from typing import Any

from core.analysis.support.common import Reason
from core.analysis.support.graph import SubgraphView
from core.analysis.support.table import op_reason, runtime_tensors

MIN_SDK = 27                     # NNAPI 1.0
_TYPE_SDK = {"float32": 27, "int32": 27, "uint8": 27, "float16": 29, "bool": 29, "int8": 30}
_LEVEL_NAMES = {27: "NNAPI 1.0 (API 27)", 28: "NNAPI 1.1 (API 28)", 29: "NNAPI 1.2 (API 29)",
                30: "NNAPI 1.3 (API 30)", 31: "NNAPI feature level 5 (API 31)"}


def _level(sdk: int) -> str:
    return _LEVEL_NAMES.get(sdk, f"the updatable NNAPI runtime, feature level {sdk % 1000}")


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    sdk = int(opts["android_sdk_version"])
    return view.per_key(lambda op: _reason(view, op, opts, facts, sdk))


def _reason(view, op, opts, facts, sdk) -> Reason:
    if sdk < MIN_SDK:
        return f"Android API {sdk} has no NNAPI (needs {MIN_SDK}+)"
    fact = facts["ops"].get(op.op)
    if fact and fact.get("min_sdk", 0) > sdk:
        return f"{op.op} needs {_level(fact['min_sdk'])}, the device has API {sdk}"
    r = op_reason(view, op, facts, opts, {}, "{op} is not an NNAPI op")
    if r:
        return r
    for role, t in runtime_tensors(view, op):
        need = _TYPE_SDK.get(t.dtype)
        if need is None:
            return f"{role} is {t.dtype}"
        if need > sdk:
            return f"{role} is {t.dtype}, which needs API {need}"
    return None
