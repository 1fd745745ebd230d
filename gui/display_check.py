"""Why Qt could not open a window, said before Qt aborts. Imports no Qt (safe to call first)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# shared library -> Debian/Ubuntu package that provides it (what Qt's xcb plugin links against)
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-randr0": "libxcb-randr0",
    "libX11-xcb.so.1": "libx11-xcb1", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0", "libxcb.so.1": "libxcb1",
}


def _xcb_plugin() -> Path | None:
    try:
        import importlib.util
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0])
    p = base / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return p if p.exists() else None


def missing_libraries(binary: Path) -> list[str]:
    if not shutil.which("ldd"):
        return []
    try:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split()[0] for line in out.splitlines() if "not found" in line})


def display_problem(env: dict[str, str] | None = None) -> str | None:
    """A sentence saying what is missing to open a window, or None when it should work."""
    env = dict(os.environ if env is None else env)
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: the user chose; Qt reports its own problems
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("LiteLens needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is set.\n"
                "  - on a desktop: start it from the desktop session;\n"
                "  - over ssh: connect with `ssh -X`;\n"
                "  - headless: `apt-get install xvfb` and run `xvfb-run make run`, or set "
                "QT_QPA_PLATFORM=offscreen to render without a screen.")
    plugin = _xcb_plugin()
    if plugin is not None:
        missing = missing_libraries(plugin)
        # Qt >= 6.5 dlopen()s libxcb-cursor at run time, so ldd does not list it
        import ctypes.util
        if ctypes.util.find_library("xcb-cursor") is None:
            missing.append("libxcb-cursor.so.0")
        if missing:
            pkgs = sorted({XCB_PACKAGES.get(lib, lib) for lib in missing})
            return ("Qt's X11 (xcb) platform plugin cannot load: missing system libraries "
                    f"{', '.join(missing)}.\n  Install them, e.g. on Debian/Ubuntu:\n"
                    f"    sudo apt-get install {' '.join(pkgs)}")
    return None
