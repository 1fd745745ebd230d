"""``litelens-gui --self-test [MODEL]``: open a model in the real window, run one inference through
the Run panel's worker process, exit 0 when both worked. The bundle check (`make bundle-check`)
runs it on the frozen app, where a missing native library or data file only shows at run time."""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from core import format as fmt

if TYPE_CHECKING:
    from core.inference.results import BenchResult

SELF_TEST_TIMEOUT_S = 120.0


def run_self_test(app, win, path: str) -> None:
    """Drive ``win`` from the event loop; ``app.exit(code)`` when done (0 = passed)."""
    from PySide6.QtCore import QTimer

    from gui.model.model_tab import ModelTab
    deadline = time.monotonic() + SELF_TEST_TIMEOUT_S

    def done(code: int, message: str) -> None:
        print(f"litelens-gui self-test: {message}", file=sys.stderr if code else sys.stdout,
              flush=True)
        app.exit(code)

    def on_result(res: BenchResult) -> None:
        runs = res.latency_ms.runs
        if res.error or not runs:
            done(1, f"FAILED: inference in the worker: {res.error or 'no run recorded'}")
        else:
            done(0, f"passed: opened {path} and ran {runs} inference(s) in the worker "
                    f"(median {fmt.duration_ms(res.latency_ms.median)})")

    def wait_for_tab() -> None:
        if win.errors:
            done(1, f"FAILED: could not open the model: {win.errors[0]}")
            return
        tab = win.tabs.currentWidget()
        if not isinstance(tab, ModelTab):
            if time.monotonic() > deadline:
                done(1, f"FAILED: {path} did not open within {SELF_TEST_TIMEOUT_S:.0f} s")
            else:
                QTimer.singleShot(100, wait_for_tab)
            return
        panel = tab.run_panel()
        tab.tabs.setCurrentWidget(panel.parentWidget())
        panel.run_finished.connect(on_result)
        panel.run_configs([panel.config(runs=1, warmup=0, profile=False,
                                        timeout_s=SELF_TEST_TIMEOUT_S)])
        QTimer.singleShot(int(SELF_TEST_TIMEOUT_S * 1000),
                          lambda: done(1, "FAILED: the inference did not finish in time"))

    win.open_paths([path])
    QTimer.singleShot(100, wait_for_tab)
