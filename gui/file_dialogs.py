"""Open/Save dialogs that start where the user last was: one remembered folder per purpose
("models", "exports", "inputs"), kept in the application's QSettings."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

_settings: list[QSettings] = []


def use_settings(settings: QSettings) -> None:
    """The settings the dialogs remember folders in (the main window's; default: the app's)."""
    _settings[:] = [settings]


def settings() -> QSettings:
    return _settings[0] if _settings else QSettings("LiteLens", "LiteLens")


def last_folder(purpose: str) -> str:
    folder = str(settings().value(f"last_folder/{purpose}", "") or "")
    return folder if folder and os.path.isdir(folder) else ""


def remember_folder(purpose: str, path: str) -> None:
    if path:
        settings().setValue(f"last_folder/{purpose}", str(Path(path).resolve().parent))


def open_files(parent: QWidget, title: str, filters: str, purpose: str = "models") -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, last_folder(purpose), filters)
    if paths:
        remember_folder(purpose, paths[0])
    return paths


def open_file(parent: QWidget, title: str, filters: str, purpose: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(purpose), filters)
    remember_folder(purpose, path)
    return path


def open_folder(parent: QWidget, title: str, purpose: str) -> str:
    """A folder; the next dialog of this purpose starts beside it."""
    folder = QFileDialog.getExistingDirectory(parent, title, last_folder(purpose))
    if folder:
        settings().setValue(f"last_folder/{purpose}", str(Path(folder).resolve().parent))
    return folder


def save_file(parent: QWidget, title: str, name: str, filters: str,
              purpose: str = "exports") -> str:
    """A save path; ``name`` is the suggested file name, placed in the remembered folder."""
    folder = last_folder(purpose)
    path, _ = QFileDialog.getSaveFileName(parent, title, os.path.join(folder, name) if folder
                                          else name, filters)
    remember_folder(purpose, path)
    return path
