"""The one error type the reader raises for a file it cannot accept."""
from __future__ import annotations

from pathlib import Path

from core.format import MESSAGE_LIMIT, printable


class ModelError(Exception):
    """A model file that cannot be read: names the file, the problem and, where known, the byte.

    Every problem the reader finds in an untrusted file ends up as this exception, so callers (CLI,
    GUI, tests) catch one type and show ``str(err)``. The message is one printable line of bounded
    length whatever the file contains (names with newlines or terminal escapes, huge shapes).
    """

    def __init__(self, path: str | Path, problem: str, offset: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.offset = offset
        where = f" (at byte {offset})" if offset is not None else ""
        super().__init__(printable(f"{self.path}: {problem}{where}", MESSAGE_LIMIT))
