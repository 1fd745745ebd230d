"""The board's side of a remote run: this file's source is handed to the board's Python
(``python3 -c SOURCE BASE``) over one SSH session, and nothing is installed there.

It reads the board's facts, makes a private folder (``mkdtemp``: mode 700) under BASE (empty:
the system's temporary folder), says ``hello`` with the facts and the free space, receives the
worker package and the model (a length-prefixed manifest, then the files' bytes), checks every
SHA-256, says ``ready`` and runs ``python -m core.inference.worker`` there with the session's
stdin and stdout, so the worker's JSON lines reach LiteLens unchanged. When the worker exits it
sends the exit status (negative: the signal, as ``Popen.returncode``) and the runtime's native log,
and removes the folder. A dropped connection (stdout's reader gone) kills the worker; SIGTERM and
SIGHUP also end in the clean-up. Its own lines carry the key ``launcher`` (never ``t``).

Standard library only, and Python 3.6 syntax: it runs before LiteLens knows what the board has.
"""
import hashlib
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile

HEADER_DIGITS = 12      # the manifest's length, in ASCII decimal, before the manifest
CHUNK = 1 << 20
RUNTIMES = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime",
            "tensorflow": "tensorflow", "numpy": "numpy"}


def send(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def read_text(path, limit=65536):
    try:
        with open(path, "r", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None  # not readable here (container, other kernel): that fact stays unknown


def cpu_model():
    text = read_text("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or None


def memory_bytes():
    out = {}
    for line in (read_text("/proc/meminfo") or "").splitlines():
        name, _, value = line.partition(":")
        if name in ("MemTotal", "MemAvailable") and value.split():
            out[name] = int(value.split()[0]) * 1024
    return out.get("MemTotal"), out.get("MemAvailable")


def temperatures():
    out = {}  # type: dict
    base = "/sys/class/thermal"
    try:
        zones = sorted(z for z in os.listdir(base) if z.startswith("thermal_zone"))
    except OSError:
        return out
    for z in zones:
        raw = read_text(os.path.join(base, z, "temp"))
        kind = (read_text(os.path.join(base, z, "type")) or z).strip()
        try:
            out[kind] = int(raw.strip()) / 1000.0
        except (AttributeError, ValueError):
            continue
    return out


def versions():
    import importlib.util
    try:
        from importlib.metadata import version
    except ImportError:  # Python < 3.8: presence only
        def version(distribution_name):  # type: (str) -> str
            return "present"
    out = {}  # type: dict
    for module, dist in RUNTIMES.items():
        if importlib.util.find_spec(module) is None:
            out[dist] = None
            continue
        try:
            out[dist] = version(dist)
        except Exception:  # noqa: BLE001 - any metadata problem: installed, version unknown
            out[dist] = "present"
    return out


def facts():
    governor = read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    total, available = memory_bytes()
    return {"hostname": platform.node(), "machine": platform.machine(),
            "system": platform.system() + " " + platform.release(),
            "cpu_model": cpu_model(), "cores": os.cpu_count(),
            "governor": governor.strip() if governor else None,
            "memory_total_bytes": total, "memory_available_bytes": available,
            "temperatures_c": temperatures(),
            "python": platform.python_version(), "python_path": sys.executable,
            "runtimes": versions()}


def read_exact(n):
    """n bytes of stdin, unbuffered (the worker inherits the rest); b"" on end of input."""
    parts = []
    while n:
        chunk = os.read(0, min(n, CHUNK))
        if not chunk:
            return b""
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def receive(folder):
    """Write the manifest's files under ``folder``; None when LiteLens closed the session."""
    head = read_exact(HEADER_DIGITS)
    if not head:
        return None
    manifest = json.loads(read_exact(int(head)).decode("utf-8"))
    for f in manifest["files"]:
        rel = os.path.normpath(f["path"])
        if rel.startswith("..") or os.path.isabs(rel):
            raise ValueError("refusing path outside the folder: " + rel)
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        digest, left = hashlib.sha256(), f["size"]
        with open(path, "wb") as fh:
            while left:
                chunk = read_exact(min(left, CHUNK))
                if not chunk:
                    return None
                fh.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        if digest.hexdigest() != f["sha256"]:
            send(launcher="error", kind="checksum",
                 message="checksum mismatch for {} after upload".format(f["path"]))
            return False
    return True


def run_worker(folder):
    env = dict(os.environ, PYTHONPATH=folder, TF_CPP_MIN_LOG_LEVEL="1")
    env.pop("LITELENS_RESOURCES", None)
    child = subprocess.Popen([sys.executable, "-u", "-m", "core.inference.worker"], cwd=folder,
                             env=env)
    watch = select.poll()
    watch.register(1, select.POLLERR | select.POLLHUP)
    lost = False
    try:
        while child.poll() is None:
            if watch.poll(250):   # LiteLens's end of the session is gone
                lost = True
                child.kill()
                child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    log = read_text(os.path.join(folder, "native.log"), 1 << 20) or ""
    return child.returncode, log[-8000:], lost


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    base = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
    try:
        folder = tempfile.mkdtemp(prefix="litelens-", dir=base)
    except OSError as e:
        send(launcher="error", kind="remote_tmp",
             message="cannot create a private folder in {}: {}".format(
                 base or tempfile.gettempdir(), e.strerror or e))
        return 4
    try:
        send(launcher="hello", dir=folder, free_bytes=shutil.disk_usage(folder).free,
             facts=facts())
        try:
            got = receive(folder)
        except OSError as e:
            kind = "no_space" if e.errno in (28, 122) else "upload"   # ENOSPC, EDQUOT
            send(launcher="error", kind=kind, message="cannot write the upload to {}: {}".format(
                folder, e.strerror or e))
            return 4
        if not got:
            return 4 if got is False else 0
        send(launcher="ready")
        code, log, lost = run_worker(folder)
        if not lost:
            shutil.rmtree(folder, ignore_errors=True)
            send(launcher="exit", code=code, native_log=log)
        return 0
    except BrokenPipeError:
        return 5   # LiteLens went away while we were talking: nothing left to tell
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
