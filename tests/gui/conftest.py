"""Fixtures the GUI tests share."""
from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    """A shown main window with its own settings file; its model loads are waited for after."""
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.loader.wait_all()
    gc.collect()
