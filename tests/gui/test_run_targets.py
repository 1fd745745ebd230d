"""The Run panel's target chooser: saved boards (name, address, Python, notes) kept in the app's
settings, checked by core (a password in an address is refused), offered beside this computer."""
from __future__ import annotations

import sys

from PySide6.QtCore import QSettings

from core.inference.ssh_target import SavedTarget, saved_targets
from gui.run.targets import LOCAL_LABEL, SETTINGS_KEY, TargetChooser


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "litelens.ini"), QSettings.Format.IniFormat)


def _fill(dlg, row: int, *texts: str) -> None:
    for c, text in enumerate(texts):
        dlg.table.item(row, c).setText(text)


def test_saved_targets_are_chosen_and_kept(qtbot, tmp_path):
    chooser = TargetChooser(_settings(tmp_path))
    qtbot.addWidget(chooser)
    assert [chooser.combo.itemText(i) for i in range(chooser.combo.count())] == [LOCAL_LABEL]
    assert chooser.current() is None
    dlg = chooser.open_dialog()
    dlg.add_row()
    _fill(dlg, 0, "pi4", "ssh://pi@raspberrypi.local:2222", "/home/pi/venv/bin/python",
          "shelf 2, fan off")
    with qtbot.waitSignal(chooser.changed):
        dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    chooser.combo.setCurrentIndex(1)
    assert chooser.current() == SavedTarget("pi4", "ssh://pi@raspberrypi.local:2222",
                                            "/home/pi/venv/bin/python", "shelf 2, fan off")
    assert chooser.current().target().port == 2222
    # stored in the settings, read back by a new chooser (another session of the app)
    again = TargetChooser(_settings(tmp_path))
    qtbot.addWidget(again)
    assert again.combo.itemText(1) == "pi4"
    stored = _settings(tmp_path).value(SETTINGS_KEY)
    assert "password" not in stored and saved_targets(stored)[0].name == "pi4"


def test_bad_targets_are_refused_with_the_reason(qtbot, tmp_path):
    chooser = TargetChooser(_settings(tmp_path))
    qtbot.addWidget(chooser)
    dlg = chooser.open_dialog()
    dlg.add_row()
    _fill(dlg, 0, "jetson", "ssh://nvidia:secret@jetson", "python3", "")
    dlg.accept()
    assert dlg.isVisible() and "passwords are never taken" in dlg.problem.text()
    _fill(dlg, 0, "", "ssh://nvidia@jetson", "python3", "")
    dlg.accept()
    assert dlg.isVisible() and "give it a name" in dlg.problem.text()
    _fill(dlg, 0, "jetson", "ssh://nvidia@jetson", "python3", "")
    dlg.add_row()
    _fill(dlg, 1, "jetson", "ssh://nvidia@jetson2", "python3", "")
    dlg.accept()
    assert dlg.isVisible() and "two targets are named 'jetson'" in dlg.problem.text()
    dlg.reject()
    assert _settings(tmp_path).value(SETTINGS_KEY) is None   # nothing stored on Cancel


def test_run_panel_runs_on_a_saved_board_beside_this_computer(qtbot, tmp_path, monkeypatch,
                                                               sshd, demo_model_path):
    from gui import file_dialogs
    from gui.run.panel import RunPanel
    from gui.run.targets import store
    settings = _settings(tmp_path)
    file_dialogs.use_settings(settings)
    monkeypatch.setenv("LITELENS_SSH_OPTIONS", " ".join(sshd.options))
    store([SavedTarget("bench-board", sshd.address, sys.executable, "the test sshd")], settings)
    p = RunPanel(str(demo_model_path))
    qtbot.addWidget(p)
    p.runs.setValue(20)
    p.warmup.setValue(0)
    p.target.combo.setCurrentIndex(1)
    assert not p.python.isEnabled()          # the board's Python comes with the target
    with qtbot.waitSignal(p.run_finished, timeout=120_000) as sig:
        p.start()
    res = sig.args[0]
    assert res.status == "ok", res.error
    assert res.target["address"] == sshd.address
    assert res.target["facts"]["python_path"] == sys.executable
    assert len(p.lat_curve.getData()[1]) == 20          # the live plot drew the board's runs
    assert p.table.item(0, 0).text().endswith(" on bench-board")
    assert sshd.address in p.table.item(0, 0).toolTip()
    # the same configuration here and on every saved target: rows and bars side by side
    with qtbot.waitSignal(p.queue_finished, timeout=240_000):
        p.target_comparison()
    assert p.table.rowCount() == 3
    assert not p.table.item(1, 0).text().endswith("bench-board")
    assert p.table.item(2, 0).text().endswith(" on bench-board")
    assert [t for t, _ in p.queue.compare] == ["this computer", "bench-board"]
    assert p.results[1][1].target is None
    assert p.results[2][1].target["address"] == sshd.address
    assert p.results[1][1].outputs == p.results[2][1].outputs
    p.shutdown()
