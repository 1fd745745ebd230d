"""File → Copy Code That Runs This Model: the dialog starts from the Run panel's signature,
delegate and threads, shows the program for the language chosen, copies it to the clipboard,
and says why when the API cannot express a choice (pytest-qt, offscreen)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QGuiApplication  # noqa: E402

from gui.model.model_tab import ModelTab  # noqa: E402


def test_copy_code_from_the_menu(qtbot, window, shared_model):
    path = shared_model("multi_signature_float32")
    with qtbot.waitSignal(window.model_opened, timeout=20000):
        window.open_paths([str(path)])
    tab = window.tabs.currentWidget()
    assert isinstance(tab, ModelTab)
    run = tab.run_panel()
    run.threads.setValue(3)
    run.signature.setCurrentIndex(run.signature.findData("encode"))
    assert window.copy_code_action.text().startswith("Copy &Code")
    window.copy_code_action.trigger()
    dlg = window.code_dialog
    assert dlg is not None
    qtbot.waitUntil(lambda: dlg.isVisible(), timeout=5000)
    # the Run panel's choices
    assert dlg.signature.currentData() == "encode" and dlg.threads.value() == 3
    text = dlg.code.toPlainText()
    assert 'get_signature_runner("encode")' in text and "num_threads=3" in text
    dlg.copy.click()
    assert QGuiApplication.clipboard().text() == text
    assert dlg.status.text().startswith("copied")
    # another language: another program
    dlg.language.setCurrentIndex(dlg.language.findData("kotlin"))
    assert "CompiledModel.create(" in dlg.code.toPlainText()
    assert 'createInputBuffers("encode")' in dlg.code.toPlainText()
    # a choice the Interpreter API cannot express: said, nothing to copy
    dlg.language.setCurrentIndex(dlg.language.findData("python"))
    dlg.delegate.setCurrentIndex(dlg.delegate.findData("gpu"))
    assert not dlg.copy.isEnabled() and "CompiledModel" in dlg.status.text()
    assert dlg.code.toPlainText() == ""
    dlg.close()
