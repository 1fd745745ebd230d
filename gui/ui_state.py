"""Small UI state remembered between sessions (panels shown or collapsed), in the app's QSettings
(the main window's, as the theme, recent files and dialog folders are)."""
from __future__ import annotations

from gui.file_dialogs import settings


def flag(name: str, default: bool) -> bool:
    """The remembered on/off state ``name`` (``ui/<name>``), or ``default``."""
    value = settings().value(f"ui/{name}", default)
    if isinstance(value, str):   # INI files give strings back
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def set_flag(name: str, on: bool) -> None:
    settings().setValue(f"ui/{name}", bool(on))
