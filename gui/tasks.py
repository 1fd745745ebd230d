"""The one way the GUI runs work off the UI thread (the shape of Orange3's ConcurrentWidgetMixin).

A task is a plain callable ``fn(state)``; ``state.set_progress(fraction, text)`` reports progress
and ``state.is_interrupt_requested()`` says it should stop (both fit the ``progress`` /
``cancelled`` callables core functions take, e.g. ``layout_subgraph``)::

    runner = TaskRunner(parent_widget)
    runner.progress.connect(...)      # (fraction, text), on the UI thread
    runner.done.connect(...)          # fn's return value
    runner.failed.connect(...)        # the exception fn raised (never a crash)
    runner.cancelled.connect(...)     # fn ended after cancel() was asked
    runner.start(fn)                  # cancels a task still running: one task per runner
    runner.cancel()

Each task runs on its own Python thread (not a QThread, so nothing can destroy a running thread
object). Its signals come through a small per-task emitter with queued connections to the runner,
and the runner forwards only those of its current task, so a cancelled task that ends late is
ignored. When the owner closes, ``shutdown()`` cancels and detaches: the thread finishes on its
own (core tasks check the interrupt between steps) and ``wait_for_tasks()`` lets the app wait for
such stragglers at exit.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal

_live: set[threading.Thread] = set()   # task threads still running, for wait_for_tasks()
_live_lock = threading.Lock()


class TaskState:
    """What a running task sees: progress reporting and the interrupt flag."""

    def __init__(self, emitter: "_Emitter", task_id: int):
        self._emitter = emitter
        self.task_id = task_id
        self._interrupt = threading.Event()

    def set_progress(self, fraction: float, text: str = "") -> None:
        self._emitter.progress.emit(self.task_id, float(fraction), str(text))

    def is_interrupt_requested(self) -> bool:
        return self._interrupt.is_set()

    def request_interrupt(self) -> None:
        self._interrupt.set()


class _Emitter(QObject):
    """Carries one task's signals from its thread to the runner (queued connections)."""
    progress = Signal(int, float, str)
    finished = Signal(int, str, object)   # task id, "done" | "failed" | "cancelled", payload


class TaskRunner(QObject):
    progress = Signal(float, str)
    done = Signal(object)
    failed = Signal(object)      # the exception
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, name: str = "task"):
        super().__init__(parent)
        self.name = name
        self._next_id = 0
        self._current: tuple[int, TaskState] | None = None
        self._thread: threading.Thread | None = None   # of the last task started

    @property
    def busy(self) -> bool:
        """A task was started and has not reported its end yet."""
        return self._current is not None

    def start(self, fn: Callable[[TaskState], Any]) -> None:
        """Run ``fn(state)`` on a new thread; a task still running is cancelled and detached
        first (its late signals are dropped)."""
        self.shutdown()
        self._next_id += 1
        task_id = self._next_id
        emitter = _Emitter()
        emitter.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        emitter.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        state = TaskState(emitter, task_id)
        thread = threading.Thread(target=_run, args=(fn, state, emitter),
                                  name=f"litelens-{self.name}")
        self._current = (task_id, state)
        self._thread = thread
        with _live_lock:
            _live.add(thread)
        thread.start()

    def cancel(self) -> None:
        """Ask the current task to stop; it reports ``cancelled`` when it does."""
        if self._current is not None:
            self._current[1].request_interrupt()

    def shutdown(self) -> None:
        """The owner is closing (or starting anew): cancel the task and drop all its later
        signals. Never blocks; the thread ends on its own."""
        self.cancel()
        self._current = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the last task's thread ends; True if it has. (Signals still arrive
        through the event loop afterwards.)"""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _on_progress(self, task_id: int, fraction: float, text: str) -> None:
        if self._current is not None and self._current[0] == task_id:
            self.progress.emit(fraction, text)

    def _on_finished(self, task_id: int, outcome: str, payload: object) -> None:
        if self._current is None or self._current[0] != task_id:
            return
        self._current = None
        if outcome == "done":
            self.done.emit(payload)
        elif outcome == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()


def _run(fn: Callable[[TaskState], Any], state: TaskState, emitter: _Emitter) -> None:
    try:
        try:
            result = fn(state)
        except Exception as e:  # noqa: BLE001 - delivered to the UI as ``failed``, never lost
            outcome, payload = "failed", e
        else:
            outcome, payload = "done", result
        if state.is_interrupt_requested():  # asked to stop: whatever it did is not wanted
            outcome, payload = "cancelled", None
        emitter.finished.emit(state.task_id, outcome, payload)
    finally:
        # the emitter belongs to the UI thread: let that thread delete it
        emitter.deleteLater()
        with _live_lock:
            _live.discard(threading.current_thread())


def wait_for_tasks(timeout: float = 5.0) -> bool:
    """At exit: give cancelled tasks ``timeout`` seconds in all to end. True if none is left."""
    end = time.monotonic() + timeout
    with _live_lock:
        threads = list(_live)
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return not any(t.is_alive() for t in threads)
