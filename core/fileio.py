"""Writing outputs safely: atomically (temp file in the same folder, then published in one step),
with the permissions any new file gets, never over a file that is there at the moment of the write
(unless the user confirmed replacing it) and never over a user's model; and JSON strictly (no
NaN/Infinity, which strict parsers reject)."""
from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

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


class OutputExists(FileExistsError):
    """The output path is taken (before the write, or by a file that appeared during it): the
    message names the file; that file is left as it is and nothing was written."""


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False,
                allow_model_overwrite: bool = False) -> Iterator[str]:
    """Yields a temporary path beside ``path``; on success it becomes ``path`` in one step, on
    failure it is removed and ``path`` is untouched.

    No-clobber at the moment of the write: without ``overwrite``, ``path`` must not exist, and
    the temporary file is published with link(2) (which fails if anything is at ``path`` by
    then) or, where the filesystem has no hard links, renameat2(RENAME_NOREPLACE). With
    ``overwrite`` (the user confirmed replacing the file, in a save dialog) the file that is at
    ``path`` now is replaced, never a TFLite model (unless ``allow_model_overwrite``) and never
    a file that appears or changes after this call. Raises OutputExists naming the file."""
    path = Path(path)
    before = _identity(path)
    if before is not None and not (overwrite or allow_model_overwrite):
        raise OutputExists(f"{path}: already exists; choose a new file name (LiteLens never "
                           "overwrites a file)")
    if before is not None and not allow_model_overwrite and is_tflite(path):
        raise OutputExists(f"{path}: is a TFLite model, which LiteLens never overwrites with an "
                           "export; choose another file name")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    # mkstemp creates 0600 (right for a private temp file, wrong for an export others read):
    # give the file what open() would have, 0666 less the umask.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield tmp
        if before is None:
            _publish_new(tmp, path)
        else:
            if _identity(path) != before:
                raise OutputExists(f"{path}: the file there changed while LiteLens was writing; "
                                   "it was left as it is and nothing was written")
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """What tells one file at ``path`` from another (None when nothing is there)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _appeared(path: Path) -> OutputExists:
    return OutputExists(f"{path}: a file appeared at the output path while LiteLens was writing; "
                        "it was left as it is and nothing was written")


# errno values of link(2) on a filesystem without hard links (FAT, some network/FUSE mounts)
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def _publish_new(tmp: str, path: Path) -> None:
    """``tmp`` becomes ``path`` only if nothing is at ``path``, checked by the kernel at that
    instant (a check-then-rename would replace a file created in between)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _appeared(path) from None
    except OSError as e:
        if e.errno not in _NO_HARD_LINKS:
            raise
        _rename_noreplace(tmp, path)
        return
    os.unlink(tmp)


_RENAME_NOREPLACE = 1   # linux/fs.h
_AT_FDCWD = -100


def _rename_noreplace(tmp: str, path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOTSUP, f"{path}: this filesystem has no hard links and this "
                      "system no renameat2, so LiteLens cannot write without risking a file "
                      "that appears meanwhile; choose a folder on another filesystem")
    if renameat2(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(path),
                 _RENAME_NOREPLACE) != 0:
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise _appeared(path)
        raise OSError(err, f"{path}: {os.strerror(err)}")


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


def dumps_json(value: Any, **kwargs: Any) -> str:
    """JSON text as LiteLens writes it everywhere: strict, so NaN/Infinity raise ValueError instead
    of producing a file that strict parsers reject (callers turn non-finite values into null)."""
    return json.dumps(value, allow_nan=False, **kwargs)


def dump_json(value: Any, fh: IO[str], **kwargs: Any) -> None:
    json.dump(value, fh, allow_nan=False, **kwargs)


def finite_or_null(value: Any, where: str = "", found: list[str] | None = None) -> Any:
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


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def write_npy(path: str | os.PathLike, array: Any, *, overwrite: bool = False) -> Path:
    """An array as a .npy file (numpy's format), written atomically."""
    import numpy as np
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
    return Path(path)
