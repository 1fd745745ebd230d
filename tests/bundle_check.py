"""``python -m tests.bundle_check [dist/LiteLens]``: run the built PyInstaller bundle as users do
(``make bundle-check``; CI runs it after ``make test``).

The frozen app can lack a native library, a data file or a lazily imported module that the source
tree has; that only shows when it runs. So: the bundled CLI reports on a model from another working
directory and must agree with the source tree's reader; a bad file gives exit 2 and one line; the
bundled GUI opens a model and runs one inference in its worker (``--self-test``, offscreen); the
big ML frameworks must not have been pulled in. Prints the bundle's size and its biggest parts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("tensorflow", "torch", "jax", "jaxlib", "keras", "tf_keras",
             "tflite_micro", "ethosu", "openvino", "h5py")
SIZE_TARGET_MB = 400


def _du(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def size_report(bundle: Path, top: int = 12) -> tuple[int, list[tuple[str, int]]]:
    internal = bundle / "_internal"
    parts = [(p.name, _du(p)) for p in internal.iterdir()] if internal.is_dir() else []
    parts.sort(key=lambda x: -x[1])
    return _du(bundle), parts[:top]


def _run(cmd: list[str], cwd: str, timeout: float, env: dict | None = None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def check(bundle: Path) -> list[str]:
    from core.model.reader import open_model
    from core.model.samples import demo_model_path, synthetic_chain

    exe = bundle / ("LiteLens.exe" if os.name == "nt" else "LiteLens")
    if not exe.is_file():
        return [f"{exe}: no bundle binary (run `make bundle`)"]
    failures: list[str] = []
    internal = bundle / "_internal"
    for name in FORBIDDEN:
        if (internal / name).exists():
            failures.append(f"{name} is in the bundle (build.spec excludes it)")
    # resources the app reads are there; the README's screenshots are not
    for name in ("demo_model.tflite", "ops/catalogue.json", "icons", "style.qss"):
        if not (internal / "resources" / name).exists():
            failures.append(f"resources/{name} is missing from the bundle")
    if (internal / "resources" / "screenshots").exists():
        failures.append("resources/screenshots (the README's) is in the bundle")

    with tempfile.TemporaryDirectory(prefix="litelens-bundle-check-") as tmp:
        # a model the bundle has never seen, from a folder that is not the checkout
        model = synthetic_chain(40).save(Path(tmp) / "fresh.tflite")
        for path in (model, demo_model_path()):
            p = _run([str(exe), "--cli", "report", str(path), "--json"], cwd=tmp, timeout=120)
            if p.returncode != 0:
                failures.append(f"bundled CLI report {path.name}: exit {p.returncode}: "
                                f"{p.stderr.strip()[-400:]}")
                continue
            rep = json.loads(p.stdout)
            ops = sum(len(sg["operators"]) for sg in rep["subgraphs"])
            with open_model(str(path)) as m:
                if ops != m.op_count:
                    failures.append(f"bundled CLI report {path.name}: {ops} ops, the source "
                                    f"tree's reader finds {m.op_count}")
            print(f"ok  bundled CLI: report {path.name} --json ({ops} ops)")
        bad = Path(tmp) / "bad.tflite"
        bad.write_bytes(b"not a model at all")
        p = _run([str(exe), "--cli", "report", str(bad)], cwd=tmp, timeout=60)
        if p.returncode != 2 or str(bad) not in p.stderr:
            failures.append(f"bundled CLI on a bad file: exit {p.returncode}, stderr "
                            f"{p.stderr.strip()[-300:]!r} (want exit 2 naming the file)")
        else:
            print("ok  bundled CLI: bad file -> exit 2, one line naming it")
        # the Intel NPU plugin is left out with OpenVINO (build.spec): the bundle says so
        p = _run([str(exe), "--cli", "support", str(model), "--delegate", "npu-intel"],
                 cwd=tmp, timeout=120)
        if "this LiteLens bundle has no" not in p.stderr + p.stdout:
            failures.append(f"bundled CLI support --delegate npu-intel: exit {p.returncode}, "
                            f"{(p.stderr + p.stdout).strip()[-300:]!r} (want: the bundle "
                            "leaves the plugin out)")
        else:
            print("ok  bundled CLI: npu-intel says the bundle leaves its plugin out")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": tmp,
               "XDG_CONFIG_HOME": str(Path(tmp) / "config")}  # keep the user's settings out
        p = _run([str(exe), "--self-test", str(model)], cwd=tmp, timeout=300, env=env)
        if p.returncode != 0:
            failures.append(f"bundled GUI --self-test: exit {p.returncode}: "
                            f"{(p.stdout + p.stderr).strip()[-600:]}")
        else:
            print(f"ok  bundled GUI: {p.stdout.strip()}")
    return failures


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    bundle = Path(args[0] if args else ROOT / "dist" / "LiteLens").resolve()
    failures = check(bundle)
    total, parts = size_report(bundle)
    print(f"bundle size: {total / 2**20:.0f} MB (target < {SIZE_TARGET_MB} MB); biggest parts:")
    for name, size in parts:
        print(f"  {size / 2**20:7.1f} MB  {name}")
    if total > SIZE_TARGET_MB * 2**20:
        print(f"note: the bundle is over the {SIZE_TARGET_MB} MB target")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
