"""gui/tasks.py: the one off-thread task runner (pytest-qt, offscreen, real core work)."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QWidget

from core.graph.layout import LayoutCancelled, layout_subgraph
from core.model.reader import open_model
from core.model.samples import synthetic_chain
from gui.tasks import TaskRunner, wait_for_tasks


@pytest.fixture(scope="module")
def chain20k(tmp_path_factory):
    path = synthetic_chain(20_000).save(tmp_path_factory.mktemp("chain") / "c20k.tflite")
    model = open_model(path)
    yield model
    model.close()


def test_progress_and_result_arrive_on_the_ui_thread(qtbot):
    runner = TaskRunner()
    seen = []
    ui = QThread.currentThread()
    runner.progress.connect(lambda f, t: seen.append((f, t, QThread.currentThread() is ui)))
    worker_threads = []

    def task(state):
        worker_threads.append(threading.current_thread())
        for i in range(3):
            state.set_progress(i / 2, f"step {i}")
        return 42
    with qtbot.waitSignal(runner.done, timeout=10_000) as sig:
        runner.start(task)
    assert sig.args == [42]
    assert worker_threads[0] is not threading.main_thread()
    assert seen == [(0.0, "step 0", True), (0.5, "step 1", True), (1.0, "step 2", True)]
    assert not runner.busy


def test_cancel_stops_a_long_layout(qtbot, chain20k):
    runner = TaskRunner()
    started = threading.Event()
    outcome = []

    def lay_out(state):
        def progress(f, text):
            started.set()
            state.set_progress(f, text)
        try:
            return layout_subgraph(chain20k, 0, progress=progress,
                                   cancelled=state.is_interrupt_requested)
        except LayoutCancelled:
            outcome.append("stopped")
            raise
    runner.start(lay_out)
    assert started.wait(30)
    with qtbot.waitSignal(runner.cancelled, timeout=30_000):
        runner.cancel()
    assert outcome == ["stopped"]          # the core function saw the interrupt and stopped
    assert runner.wait(5) and not runner.busy


def test_an_exception_arrives_as_failed(qtbot):
    runner = TaskRunner()
    with qtbot.waitSignal(runner.failed, timeout=10_000) as sig:
        runner.start(lambda state: open_model("/nonexistent/model.tflite"))
    assert "model.tflite" in str(sig.args[0])
    with qtbot.waitSignal(runner.failed, timeout=10_000) as sig:
        runner.start(lambda state: 1 / 0)
    assert isinstance(sig.args[0], ZeroDivisionError)


def test_starting_a_new_task_cancels_and_silences_the_old(qtbot):
    runner = TaskRunner()
    results = []
    runner.done.connect(results.append)
    runner.cancelled.connect(lambda: results.append("cancelled"))
    release = threading.Event()
    seen_interrupt = []

    def slow(state):
        release.wait(10)
        seen_interrupt.append(state.is_interrupt_requested())
        return "old"
    runner.start(slow)
    with qtbot.waitSignal(runner.done, timeout=10_000):
        runner.start(lambda state: "new")
    release.set()
    assert wait_for_tasks(10)
    qtbot.wait(50)                         # let any late signal of the old task arrive
    assert results == ["new"] and seen_interrupt == [True]


def test_closing_the_owner_mid_task_is_safe(qtbot, chain20k):
    owner = QWidget()
    runner = TaskRunner(owner)
    started = threading.Event()
    got = []
    runner.done.connect(got.append)
    runner.failed.connect(got.append)

    def lay_out(state):
        started.set()
        return layout_subgraph(chain20k, 0, progress=state.set_progress,
                               cancelled=state.is_interrupt_requested)
    runner.start(lay_out)
    assert started.wait(10)
    runner.shutdown()
    owner.deleteLater()                    # the runner (a child) goes with it
    qtbot.wait(20)
    assert wait_for_tasks(30)              # the thread ended on its own after the cancel
    qtbot.wait(50)
    assert got == []


def test_owner_deleted_without_shutdown_drops_the_result(qtbot):
    owner = QWidget()
    runner = TaskRunner(owner)
    release = threading.Event()
    runner.start(lambda state: release.wait(10) and "late")
    owner.deleteLater()
    qtbot.wait(20)                         # owner and runner are gone while the task runs
    release.set()
    assert wait_for_tasks(10)
    qtbot.wait(50)                         # the late result finds no receiver: no crash
