"""`litelens-gui --install-desktop` in a throwaway HOME / XDG_DATA_HOME / XDG_CONFIG_HOME."""
from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.resources import resource_path
from gui.desktop_entry import set_default_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="XDG desktop integration is Linux")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("xdg")
    env = {**os.environ, "HOME": str(base / "home"), "XDG_DATA_HOME": str(base / "data"),
           "XDG_CONFIG_HOME": str(base / "config"),
           "XDG_DATA_DIRS": f"{base / 'data'}:/usr/local/share:/usr/share"}
    (base / "home").mkdir()
    proc = subprocess.run([sys.executable, "-m", "gui.app", "--install-desktop"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return base, env, proc.stdout


def test_desktop_entry_starts_this_litelens(installed):
    base, _, out = installed
    entry = base / "data" / "applications" / "litelens.desktop"
    assert f"wrote {entry}" in out
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(entry)
    d = cp["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "litelens"
    assert "application/x-tflite" in d["MimeType"].split(";")
    argv = shlex.split(d["Exec"])
    assert argv[-1] == "%F"  # several files at once, as paths
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK)
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_icons_and_mime_package_are_installed(installed):
    base, _, _ = installed
    icons = base / "data" / "icons" / "hicolor"
    assert (icons / "256x256/apps/litelens.png").read_bytes() == \
        resource_path("icons/litelens.png").read_bytes()
    assert (icons / "64x64/apps/litelens.png").is_file()
    assert (icons / "scalable/apps/litelens.svg").is_file()
    xml = (base / "data" / "mime" / "packages" / "litelens-tflite.xml").read_text()
    assert 'type="application/x-tflite"' in xml
    assert 'pattern="*.tflite"' in xml
    assert 'offset="4" value="TFL3"' in xml
    mimeapps = (base / "config" / "mimeapps.list").read_text()
    assert "[Default Applications]\napplication/x-tflite=litelens.desktop;" in mimeapps


def test_mime_database_knows_the_type(installed):
    base, _, _ = installed
    if shutil.which("update-mime-database") is None:
        pytest.skip("update-mime-database (shared-mime-info) is not installed on this machine")
    mime = base / "data" / "mime"
    assert "application/x-tflite:*.tflite" in (mime / "globs2").read_text()
    magic = (mime / "magic").read_bytes()
    assert b"[60:application/x-tflite]" in magic and b"TFL3" in magic


def test_xdg_mime_reports_litelens_as_the_default(installed, tmp_path):
    base, env, _ = installed
    if shutil.which("xdg-mime") is None:
        pytest.skip("xdg-mime (xdg-utils) is not installed on this machine; the files it reads "
                    "are checked by the other tests here")
    proc = subprocess.run(["xdg-mime", "query", "default", "application/x-tflite"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "litelens.desktop", proc.stderr


def test_default_app_keeps_the_rest_of_mimeapps_list(tmp_path):
    f = tmp_path / "mimeapps.list"
    f.write_text("[Added Associations]\ntext/plain=gedit.desktop;\n\n[Default Applications]\n"
                 "application/x-tflite=netron.desktop;\nimage/png=eog.desktop;\n")
    set_default_app(f, "application/x-tflite", "litelens.desktop")
    text = f.read_text()
    assert "text/plain=gedit.desktop;" in text and "image/png=eog.desktop;" in text
    assert "netron.desktop" not in text
    assert text.count("application/x-tflite=") == 1
    assert "[Default Applications]\napplication/x-tflite=litelens.desktop;" in text
