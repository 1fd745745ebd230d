"""Where the Run panel runs: this computer or a saved board over SSH. The chooser lists the saved
targets (name, address, the board's Python, notes; kept in the app's QSettings, never a
password), and its dialog edits them. The checks and the stored form are core's
(``core.inference.ssh_target.SavedTarget``)."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.inference.ssh_target import (
    DEFAULT_REMOTE_PYTHON,
    SavedTarget,
    saved_targets,
    saved_targets_json,
)
from gui import file_dialogs

SETTINGS_KEY = "run/targets"
LOCAL_LABEL = "This computer"
COLUMNS = ["name", "address", "Python on the board", "notes"]


def load(settings: QSettings | None = None) -> list[SavedTarget]:
    s = settings or file_dialogs.settings()
    return saved_targets(str(s.value(SETTINGS_KEY, "[]") or "[]"))


def store(targets: list[SavedTarget], settings: QSettings | None = None) -> None:
    s = settings or file_dialogs.settings()
    s.setValue(SETTINGS_KEY, saved_targets_json(targets))
    s.sync()


class TargetsDialog(QDialog):
    """Edit the saved targets: one row each; OK refuses a row that cannot be used and says why."""

    def __init__(self, targets: list[SavedTarget], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Targets")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeaderItem(1).setToolTip("ssh://[user@]host[:port]")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for t in targets:
            self.add_row(t)
        add, remove = QPushButton("Add"), QPushButton("Remove")
        add.clicked.connect(lambda: self.add_row())
        remove.clicked.connect(self._remove)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Boards LiteLens reaches with your ssh keys or agent (passwords are "
                             "never stored), as ssh://[user@]host[:port]. The board needs "
                             "python3 with ai-edge-litert."))
        lay.addWidget(self.table)
        lay.addLayout(row)
        lay.addWidget(self.problem)
        lay.addWidget(buttons)
        self.resize(760, 320)

    def add_row(self, t: SavedTarget | None = None) -> None:
        t = t or SavedTarget(name="", address="", python=DEFAULT_REMOTE_PYTHON)
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate((t.name, t.address, t.python, t.notes)):
            self.table.setItem(r, c, QTableWidgetItem(text))

    def _remove(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.table.removeRow(r)

    def targets(self) -> list[SavedTarget]:
        def cell(r: int, c: int) -> str:
            item = self.table.item(r, c)
            return item.text().strip() if item is not None else ""
        return [SavedTarget(cell(r, 0), cell(r, 1), cell(r, 2), cell(r, 3))
                for r in range(self.table.rowCount())
                if any(cell(r, c) for c in (0, 1, 3))]

    def accept(self) -> None:
        targets = self.targets()
        names = [t.name for t in targets]
        dup = next((n for n in names if names.count(n) > 1), None)
        why = next((p for p in (t.problem() for t in targets) if p), None) or (
            f"two targets are named {dup!r}" if dup else None)
        if why:
            self.problem.setText(why)
            return
        super().accept()


class TargetChooser(QWidget):
    """A combo box: this computer, then the saved targets; 'Targets…' edits them."""

    changed = Signal()

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self.combo = QComboBox()
        self.combo.setToolTip("Run here or on a board over SSH (the same measurements, plus the "
                              "board's CPU, governor, memory, temperature and runtime)")
        self.edit = QPushButton("Targets…")
        self.edit.clicked.connect(self.open_dialog)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo, 1)
        lay.addWidget(self.edit)
        # signal to signal (no Python lambda that could outlive the widget at teardown)
        self.combo.currentIndexChanged.connect(self.changed)
        self.reload()

    def reload(self, select: str | None = None) -> None:
        keep = select if select is not None else self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(LOCAL_LABEL, None)
        for t in load(self._settings):
            self.combo.addItem(t.name, t)
            self.combo.setItemData(self.combo.count() - 1,
                                   f"{t.address} · {t.python}" + (f"\n{t.notes}" if t.notes
                                                                   else ""),
                                   Qt.ItemDataRole.ToolTipRole)
        k = self.combo.findText(keep)
        self.combo.setCurrentIndex(max(k, 0))
        self.combo.blockSignals(False)
        self.changed.emit()

    def current(self) -> SavedTarget | None:
        """The chosen board, or None for this computer."""
        return self.combo.currentData()

    def open_dialog(self) -> TargetsDialog:
        dlg = TargetsDialog(load(self._settings), self)
        dlg.accepted.connect(lambda: self._saved(dlg))
        dlg.open()
        return dlg

    def _saved(self, dlg: TargetsDialog) -> None:
        store(dlg.targets(), self._settings)
        self.reload()
