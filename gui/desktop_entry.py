"""``litelens-gui --install-desktop``: register LiteLens with the Linux desktop for this user.

Follows the XDG specs (base directories, desktop entry, shared MIME info, MIME apps): the
``.desktop`` entry goes to ``$XDG_DATA_HOME/applications``, the icons to the hicolor theme there,
the ``application/x-tflite`` type (``*.tflite`` globs and the ``TFL3`` identifier at byte 4) to
``$XDG_DATA_HOME/mime/packages``, and LiteLens becomes the type's default application in
``$XDG_CONFIG_HOME/mimeapps.list``, so a double-click on a model in a file manager opens it here.
No Qt: the function is plain file work the tests call directly.

macOS and Windows associate files through the bundle itself (Info.plist document types, an
installer's registry entries); see build.spec and README.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from core.fileio import write_bytes
from core.resources import resource_path

DESKTOP_ID = "litelens.desktop"
MIME_TYPE = "application/x-tflite"
MIME_PACKAGE = "litelens-tflite.xml"   # vendor-prefixed, as shared-mime-info asks
ICONS = (("icons/litelens-64.png", "64x64/apps/litelens.png"),
         ("icons/litelens.png", "256x256/apps/litelens.png"),
         ("icons/litelens.svg", "scalable/apps/litelens.svg"))


def _xdg_dir(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # the spec: a relative path in the variable is invalid and must be ignored
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def data_home() -> Path:
    return _xdg_dir("XDG_DATA_HOME", ".local/share")


def config_home() -> Path:
    return _xdg_dir("XDG_CONFIG_HOME", ".config")


def launch_command() -> tuple[list[str], str | None]:
    """How a file manager starts this LiteLens, and the folder to start it in (None: any): the
    bundle's binary, the ``litelens-gui`` script installed beside this Python (a file manager
    has no activated venv), or this Python running the app module from this checkout."""
    if getattr(sys, "frozen", False):
        return [sys.executable], None
    script = Path(sys.executable).with_name("litelens-gui")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], None
    return [sys.executable, "-m", "gui.app"], str(Path(__file__).resolve().parent.parent)


def _exec_arg(arg: str) -> str:
    # Desktop Entry spec: quote arguments with reserved characters; `%` doubles
    arg = arg.replace("%", "%%")
    if any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")\
                        .replace("$", "\\$") + '"'
    return arg


def desktop_entry_text(command: list[str], workdir: str | None = None) -> str:
    """The shipped resources/litelens.desktop with ``Exec`` (and ``Path``) pointing at
    ``command``."""
    lines = []
    for line in resource_path("litelens.desktop").read_text(encoding="utf-8").splitlines():
        if line.startswith(("TryExec=", "Path=")):
            continue
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(_exec_arg(a) for a in command) + " %F"
            if workdir:
                line += "\nPath=" + workdir
        lines.append(line)
    return "\n".join(lines) + "\n"


def set_default_app(mimeapps: Path, mime_type: str, desktop_id: str) -> None:
    """Make ``desktop_id`` the default for ``mime_type`` in a mimeapps.list, keeping every other
    line of the file as it was."""
    lines = mimeapps.read_text(encoding="utf-8").splitlines() if mimeapps.exists() else []
    entry = f"{mime_type}={desktop_id};"
    out: list[str] = []
    section = None
    placed = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if section == "[Default Applications]" and not placed:
                out.append(entry)
                placed = True
            section = stripped
        elif section == "[Default Applications]" and stripped.split("=", 1)[0].strip() == mime_type:
            continue  # replaced below
        out.append(line)
        if stripped == "[Default Applications]" and not placed:
            out.append(entry)
            placed = True
    if not placed:
        if out and out[-1].strip():
            out.append("")
        out += ["[Default Applications]", entry]
    _write(mimeapps, ("\n".join(out) + "\n").encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, overwrite=True)   # our own entries, rewritten in place


def _refresh(tool: str, *args: str) -> str | None:
    """Run a cache tool when it is installed; a note when it is missing or fails."""
    exe = shutil.which(tool)
    if exe is None:
        return f"{tool} not found: the desktop picks the change up at its next cache refresh"
    proc = subprocess.run([exe, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"{tool} failed ({proc.returncode}): {proc.stderr.strip()[:200]}"
    return None


def install_desktop() -> tuple[list[Path], list[str]]:
    """Install entry, icons, MIME type and default association. Returns (files written, notes)."""
    data, config = data_home(), config_home()
    written: list[Path] = []
    apps = data / "applications" / DESKTOP_ID
    _write(apps, desktop_entry_text(*launch_command()).encode("utf-8"))
    written.append(apps)
    for src, rel in ICONS:
        dst = data / "icons" / "hicolor" / rel
        _write(dst, resource_path(src).read_bytes())
        written.append(dst)
    mime = data / "mime" / "packages" / MIME_PACKAGE
    _write(mime, resource_path("litelens-mime.xml").read_bytes())
    written.append(mime)
    mimeapps = config / "mimeapps.list"
    set_default_app(mimeapps, MIME_TYPE, DESKTOP_ID)
    written.append(mimeapps)
    notes = [n for n in (_refresh("update-mime-database", str(data / "mime")),
                         _refresh("update-desktop-database", str(data / "applications")))
             if n]
    return written, notes


def main() -> int:
    if sys.platform != "linux":
        print("litelens-gui: --install-desktop is for Linux desktops (XDG); on macOS and Windows "
              "the bundle registers .tflite files (see README)", file=sys.stderr)
        return 2
    try:
        written, notes = install_desktop()
    except OSError as e:
        print(f"litelens-gui: cannot install the desktop entry: {e}", file=sys.stderr)
        return 1
    for p in written:
        print(f"wrote {p}")
    for n in notes:
        print(f"note: {n}")
    print(f"{MIME_TYPE} (*.tflite, *.lite, 'TFL3' at byte 4) now opens with "
          f"{shlex.join(launch_command()[0])}")
    return 0
