"""What a worker job's parent half (its ``Folder``) and the ``WorkerSession`` driving it see of
each other. Kept apart from both, so the job modules (in the worker package) and the session
import this and not each other."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from core.inference.config import RunConfig
    from core.inference.inputs import InputSpec
    from core.inference.results import Outcome

R = TypeVar("R", covariant=True)


class JobSession(Protocol):
    """The session as a job's ``Folder`` reads it."""
    cfg: RunConfig
    stage: str                  # the worker's last stage ("load", "run", ...)
    info: dict[str, Any]        # the worker's hello (pid, python, backend, ...)
    specs: list[InputSpec]      # the inputs as prepared
    params: dict[str, Any]      # the job's own settings, as sent
    signature_subgraph: int     # the subgraph the run invokes

    def outcome(self) -> Outcome: ...

    def runtime_label(self) -> str | None: ...

    def worker_python(self) -> str: ...

    def output_labels(self) -> list[list[str] | None]: ...

    def target_json(self) -> dict[str, Any] | None: ...


class JobFolder(Protocol[R]):
    """A job's parent half: folds the job's own messages, says what was running when the worker
    died, and makes the job's typed result."""
    JOB: ClassVar[str]   # the job's name, sent to the worker (its module's name)

    def __init__(self, session: JobSession) -> None: ...

    def fold(self, m: dict[str, Any]) -> None: ...

    def where(self) -> str | None: ...

    def result(self) -> R: ...
