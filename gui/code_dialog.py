"""Copy code that runs this model: choose the language, signature, delegate and threads (the
tab's Run panel choices to start with), see the program (``core.inference.snippets``) and copy
it to the clipboard."""
from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.inference.inputs import InputError
from core.inference.snippets import LANGUAGES, SNIPPET_DELEGATES, SnippetError, code_snippet
from core.model.types import Model

DELEGATE_TEXT = {"xnnpack": "XNNPACK (default)", "builtin": "builtin kernels",
                 "reference": "reference kernels", "gpu": "GPU"}


class CopyCodeDialog(QDialog):
    def __init__(self, model: Model, parent: QWidget | None = None, *,
                 signature: str | None = None, delegate: str = "xnnpack", threads: int = 1,
                 shapes: dict[str, list[int]] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Copy code that runs this model")
        self.model, self.shapes = model, shapes
        self.language = QComboBox()
        for key, text in LANGUAGES.items():
            self.language.addItem(text, key)
        self.signature = QComboBox()
        for s in model.signatures:
            self.signature.addItem(f"{s.key} (subgraph {s.subgraph})", s.key)
        if not model.signatures:
            self.signature.addItem("subgraph 0 (the model has no signatures)", None)
        self.signature.setCurrentIndex(max(self.signature.findData(signature), 0))
        self.delegate = QComboBox()
        for key in SNIPPET_DELEGATES:
            self.delegate.addItem(DELEGATE_TEXT[key], key)
        self.delegate.setCurrentIndex(max(self.delegate.findData(delegate), 0))
        self.threads = QSpinBox(minimum=1, maximum=64, value=max(threads, 1))
        self.code = QPlainTextEdit(readOnly=True)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.code.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.copy = QPushButton("Copy to clipboard")
        self.copy.setDefault(True)
        form = QFormLayout()
        for label, w in (("Language", self.language), ("Signature", self.signature),
                         ("Delegate", self.delegate), ("Threads", self.threads)):
            form.addRow(label, w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.code, 1)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        for combo in (self.language, self.signature, self.delegate):
            combo.currentIndexChanged.connect(self.refresh)
        self.threads.valueChanged.connect(self.refresh)
        self.copy.clicked.connect(self.copy_to_clipboard)
        self.resize(820, 600)
        self.refresh()

    def refresh(self) -> None:
        """The program for the current choices; a choice the API cannot express says why."""
        try:
            text = code_snippet(self.model, self.language.currentData(),
                                self.signature.currentData(), self.delegate.currentData(),
                                self.threads.value(), self.shapes)
        except (SnippetError, InputError) as e:
            self.code.setPlainText("")
            self.copy.setEnabled(False)
            self.status.setText(str(e))
            return
        self.code.setPlainText(text)
        self.copy.setEnabled(True)
        lang = self.language.currentData()
        self.status.setText("runs as written (stand-in inputs)" if lang.startswith("python")
                            else "a starting point: the stand-in inputs are for you to replace")

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.code.toPlainText())
        self.status.setText(f"copied: {self.language.currentText()}, "
                            f"{self.code.blockCount()} lines")
