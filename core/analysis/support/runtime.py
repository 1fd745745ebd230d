"""Which nodes the real XNNPACK delegate replaced, read from ai-edge-litert, and the comparison
with our prediction.

The runtime is asked in a child process (a native crash must not take the caller down). There the
model is loaded with the default op resolver (XNNPACK applied at allocation), and the primary
subgraph's nodes are read back: nodes past the model's own are the DELEGATE kernels; each one's
outputs, walked back through producers until its inputs, give the ops it replaced. Allocation may
fail later (unresolved custom ops) — delegation has happened by then, so the placement still
counts. Only the primary subgraph is visible through the Python API."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from core.errors import ModelError


def read_placement(path: str) -> dict[str, Any]:
    """In THIS process: load with XNNPACK and read the DELEGATE nodes (call it in a child)."""
    from importlib.metadata import version

    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path))
    # the wrapper exposes node tables the public API does not; no reference to it may be held
    # while allocating (the interpreter refuses to run with outside references)
    own = it._interpreter.NumNodes()
    error = None
    try:
        it.allocate_tensors()
    except RuntimeError as e:          # prepare failed after delegation: placement still valid
        error = str(e).strip().splitlines()[0]
    w = it._interpreter
    total = w.NumNodes()
    producer: dict[int, int] = {}
    for n in range(own):
        for t in w.NodeOutputs(n):
            producer[int(t)] = n
    partitions = []
    for d in range(own, total):
        if w.NodeName(d) != "DELEGATE":
            continue
        boundary = {int(t) for t in w.NodeInputs(d)}
        stack = [producer[int(t)] for t in w.NodeOutputs(d) if int(t) in producer]
        seen: set[int] = set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            for t in w.NodeInputs(n):
                t = int(t)
                if t >= 0 and t not in boundary and t in producer:
                    stack.append(producer[t])
        partitions.append(sorted(seen))
    return {"runtime": f"LiteRT {version('ai-edge-litert')}", "subgraph": 0, "nodes": own,
            "delegate_nodes": len(partitions), "partitions": partitions, "error": error}


_CHILD = ("import json,sys\n"
          "from core.analysis.support.runtime import read_placement\n"
          "for p in sys.argv[1:]:\n"
          "    print(json.dumps({'path': p, **read_placement(p)}), flush=True)\n")


def runtime_placements(paths: list[str], timeout: float = 300.0) -> dict[str, dict[str, Any]]:
    """read_placement for many models in one child Python (one runtime start-up). If the child
    dies on a model, the models after it are retried one child each, so only that model fails
    (its entry is a ModelError)."""
    paths = [str(p) for p in paths]
    done: dict[str, Any] = {}
    while len(done) < len(paths):
        todo = [p for p in paths if p not in done]
        batch = todo if len(done) == 0 else todo[:1]
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, *batch], capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            done[batch[0]] = ModelError(batch[0], "the XNNPACK check did not finish in "
                                        f"{timeout:.0f} s")
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                done[entry.pop("path")] = entry
        if batch[0] not in done:      # crashed or refused on its first model
            tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            done[batch[0]] = ModelError(batch[0], "the runtime could not load the model "
                                        f"with XNNPACK: {tail}")
    return done


def runtime_placement(path: str, timeout: float = 120.0) -> dict[str, Any]:
    """read_placement in a child Python; a crash or timeout becomes a ModelError."""
    result = runtime_placements([path], timeout)[str(path)]
    if isinstance(result, ModelError):
        raise result
    return result


def compare(predicted: dict[str, Any], placement: dict[str, Any]) -> dict[str, Any]:
    """Prediction (the analyze() entry for xnnpack) vs the runtime, primary subgraph."""
    sg = predicted["subgraphs"][placement["subgraph"]]
    real = {i for p in placement["partitions"] for i in p}
    disagree = []
    for o in sg["ops"]:
        ours = o["partition"] is not None
        theirs = o["index"] in real
        if ours != theirs:
            disagree.append({"index": o["index"], "predicted": ours, "runtime": theirs,
                             "reason": o["reason"]})
    n = len(sg["ops"])
    return {"runtime": placement["runtime"], "subgraph": placement["subgraph"],
            "agree": n - len(disagree), "total": n, "disagree": disagree,
            "predicted_partitions": sg["partitions"],
            "runtime_partitions": placement["delegate_nodes"],
            "partitions_agree": sg["partitions"] == placement["delegate_nodes"],
            "runtime_error": placement["error"]}


def verdict_line(v: dict[str, Any]) -> str:
    """'checked against LiteRT 2.3.0: 282/282 agree, 1 partition'."""
    p = v["runtime_partitions"]
    text = (f"checked against {v['runtime']}: {v['agree']}/{v['total']} agree, "
            f"{p} partition{'s' if p != 1 else ''}")
    if not v["partitions_agree"]:
        text += f" (predicted {v['predicted_partitions']})"
    return text
