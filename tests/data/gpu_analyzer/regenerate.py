"""Regenerate reference.json: TF 2.17.1's model analyzer with its GPU check, on the shared models.

TF 2.18+ and LiteRT's analyzer report every model GPU-compatible (the check is compiled out), so
this needs tensorflow==2.17.1, which needs numpy<2 — a separate venv:

    python3 -m venv /tmp/tf217 && /tmp/tf217/bin/pip install "numpy<2" tensorflow==2.17.1
    /tmp/tf217/bin/python tests/data/gpu_analyzer/regenerate.py [MODELS_DIR]

Only the analyzer's verdicts are stored (subgraph -> op index -> its warning), not the models.
tests/analysis/test_support_gpu.py checks that our GPU prediction flags every op listed here.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MODELS = HERE.parents[3] / "shared" / "models"
_SUBGRAPH = re.compile(r"^Subgraph#(\d+) ")
_OP = re.compile(r"^\s+Op#(\d+) (\S+?)\(")
_WARNING = "GPU COMPATIBILITY WARNING: "


def analyze(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    import tensorflow as tf
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        tf.lite.experimental.Analyzer.analyze(model_path=str(path), gpu_compatibility=True)
    flagged: dict[str, dict[str, dict[str, str]]] = {}
    subgraph, op, name = None, None, None
    for line in buf.getvalue().splitlines():
        m = _SUBGRAPH.match(line)
        if m:
            subgraph, op = m.group(1), None
            continue
        m = _OP.match(line)
        if m:
            op, name = m.group(1), m.group(2)
            continue
        if line.startswith(_WARNING) and subgraph is not None and op is not None \
                and " has GPU delegate compatibility issues" not in line:
            entry = flagged.setdefault(subgraph, {}).setdefault(op, {"op": name, "warning": ""})
            entry["warning"] = (entry["warning"] + " " if entry["warning"] else "") + \
                line[len(_WARNING):].strip()
    return flagged


def main(argv: list[str]) -> int:
    import tensorflow as tf
    models = Path(argv[1]) if len(argv) > 1 else DEFAULT_MODELS
    out = {"tensorflow": tf.__version__, "models": {}}
    for path in sorted(models.glob("*.tflite")):
        out["models"][path.stem] = analyze(path)
        print(path.stem, sum(len(v) for v in out["models"][path.stem].values()), "flagged")
    (HERE / "reference.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
