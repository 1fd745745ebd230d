"""``litelens-gui [--demo] [MODEL ...]``: the desktop app.

The PyInstaller bundle has one binary, ``LiteLens``; it is also the CLI (``LiteLens --cli report
m.tflite``) and the inference worker (``--litelens-worker``), so the bundle ships one copy of the
Python archive instead of three."""
from __future__ import annotations

import argparse
import sys

from gui.display_check import display_problem


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from gui.screenshot import VIEWS, parse_size
    from gui.theme import THEMES
    p = argparse.ArgumentParser(prog="litelens-gui", description="LiteLens desktop app")
    p.add_argument("models", nargs="*", help=".tflite files to open")
    p.add_argument("--demo", action="store_true", help="open the embedded demo model")
    p.add_argument("--screenshot", metavar="PNG",
                   help="save a screenshot once the models are open, then quit (smoke test)")
    p.add_argument("--view", default="graph", choices=VIEWS,
                   help="with --screenshot: the view to show (compare: the first two models; "
                        "run: after a short run; default: graph)")
    p.add_argument("--theme", choices=THEMES,
                   help="light, dark or system for this start (not saved)")
    p.add_argument("--size", metavar="WxH", type=parse_size,
                   help="window size, e.g. 1280x800")
    p.add_argument("--self-test", action="store_true",
                   help="open MODEL (default: the demo model), run one inference in the worker, "
                        "exit 0 if both worked")
    p.add_argument("--install-desktop", action="store_true",
                   help="register LiteLens and the .tflite file type with this user's Linux "
                        "desktop (XDG), then exit")
    return p.parse_args(argv)


def apply_style(app, theme_choice: str = "system") -> None:
    from PySide6.QtGui import QIcon

    from core.resources import resource_path
    from gui.theme import apply_theme
    app.setApplicationName("LiteLens")
    app.setOrganizationName("LiteLens")
    apply_theme(app, theme_choice)
    icon = resource_path("icons/litelens.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["--litelens-worker"]:  # a frozen bundle starts its inference worker this way
        from core.inference.worker.__main__ import main as worker_main
        return worker_main()
    if raw[:1] == ["--cli"]:  # the bundle's binary doubles as the `litelens` CLI
        from core.cli import main as cli_main
        return cli_main(raw[1:])
    args = parse_args(argv)
    if args.install_desktop:
        from gui.desktop_entry import main as install_main
        return install_main()
    problem = display_problem()
    if problem:
        print(f"litelens-gui: {problem}", file=sys.stderr)
        return 3
    from PySide6.QtWidgets import QApplication

    from gui import none_guard
    none_guard.apply()  # first, before any widget paints (see gui/none_guard.py); only here
    from core.model.samples import demo_model_path
    from gui.main_window import MainWindow
    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow()
    apply_style(app, args.theme or str(win.settings.value("theme", "system")))
    if args.size:
        win.resize(*args.size)
    paths = list(args.models)
    if args.demo:
        paths.insert(0, str(demo_model_path()))
    win.show()
    if args.self_test:
        from gui.self_test import run_self_test
        run_self_test(app, win, paths[0] if paths else str(demo_model_path()))
    else:
        if paths:
            win.open_paths(paths)
        elif not args.screenshot:
            win.restore_session()
        if args.screenshot:
            from gui.screenshot import when_ready
            when_ready(app, win, args.screenshot, args.view, paths)
    code = app.exec()
    _tear_down(win)
    return code


def _tear_down(win) -> None:
    """Free the window while Qt is still up, on this (the UI) thread. Automatic garbage
    collection is off in the app (gui/gc_guard.py), so without this the widgets' reference
    cycles are freed at interpreter exit in no particular order, after Qt's own teardown began:
    that crashed the process with SIGSEGV after a passed --self-test, now and then."""
    from gui import gc_guard
    win.shut_down(save_session=False)  # the window may never have been closed (app.exit)
    win.deleteLater()
    del win
    from PySide6.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc_guard.collect_all()


if __name__ == "__main__":
    sys.exit(main())
