"""Writing outputs safely: atomically (temp file in the same folder, then rename), with the
permissions any new file gets, never over a user's model; and JSON strictly (no NaN/Infinity, which
strict parsers reject)."""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from core.format import nonfinite_name

# Bytes 4..8 of every .tflite file (the schema's file_identifier). It lives here, the lowest
# layer, because "never write over a model" is decided here; core.model.schema re-exports it.
TFLITE_IDENTIFIER = b"TFL3"


def is_tflite(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)[4:8] == TFLITE_IDENTIFIER
    except OSError:
        return False


@contextmanager
def atomic_path(path: str | os.PathLike, *, allow_model_overwrite: bool = False):
    """Yields a temporary path beside ``path``; on success it replaces ``path`` in one rename,
    on failure it is removed and ``path`` is untouched. Refuses (OSError) to replace an existing
    .tflite model unless ``allow_model_overwrite``."""
    path = Path(path)
    if not allow_model_overwrite and path.exists() and is_tflite(path):
        raise OSError(f"{path}: refusing to overwrite a TFLite model with an export; "
                      "choose another file name")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    # mkstemp creates 0600 (right for a private temp file, wrong for an export others read):
    # give the file what open() would have, 0666 less the umask.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    # Linux reports it without changing it; elsewhere set-and-restore is the only way (it is
    # process-wide for an instant, so it stays the fallback).
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def dumps_json(value, **kwargs) -> str:
    """JSON text as LiteLens writes it everywhere: strict, so NaN/Infinity raise ValueError instead
    of producing a file that strict parsers reject (callers turn non-finite values into null)."""
    return json.dumps(value, allow_nan=False, **kwargs)


def dump_json(value, fh, **kwargs) -> None:
    json.dump(value, fh, allow_nan=False, **kwargs)


def finite_or_null(value, where: str = "", found: list[str] | None = None):
    """``value`` (JSON-able data) with every NaN/±Infinity float replaced by None; the path of each
    replaced value ("scale[2]", "options.alpha") is appended to ``found`` when given."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if found is not None:
            name = nonfinite_name(value)
            found.append(f"{where} is {name}" if where else name)
        return None
    if isinstance(value, dict):
        return {k: finite_or_null(v, f"{where}.{k}" if where else str(k), found)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v, f"{where}[{i}]", found) for i, v in enumerate(value)]
    return value


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def write_npy(path: str | os.PathLike, array) -> Path:
    """An array as a .npy file (numpy's format), written atomically."""
    import numpy as np
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
    return Path(path)
