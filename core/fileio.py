"""Writing outputs safely: atomically (temp file in the same folder, then rename), and never over
a user's model."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

# Bytes 4..8 of every .tflite file (the schema's file_identifier). It lives here, the lowest
# layer, because "never write over a model" is decided here; core.model.schema re-exports it.
TFLITE_IDENTIFIER = b"TFL3"


def is_tflite(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)[4:8] == TFLITE_IDENTIFIER
    except OSError:
        return False


OUTPUT_MODE = 0o644


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
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, OUTPUT_MODE)  # mkstemp makes 0600; outputs get normal permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
