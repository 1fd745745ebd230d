"""Quantizing from a source model (SavedModel folder, .keras/.h5): TensorFlow's converter makes
the float .tflite, then the same recipes and verification run on it. TensorFlow is an optional
extra; without it the user is told how to install it."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

INSTALL_HINT = "pip install 'LiteLens[tensorflow]'"


def source_kind(path: str | Path) -> str:
    """"savedmodel", "keras" or "tflite"."""
    p = Path(path)
    if p.is_dir():
        return "savedmodel"
    if p.suffix.lower() in (".keras", ".h5"):
        return "keras"
    return "tflite"


def is_saved_model(path: str | Path) -> bool:
    """A folder TFLiteConverter.from_saved_model can read: it holds the graph file."""
    p = Path(path)
    return (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file()


def tensorflow_missing(path: str | Path | None = None) -> str | None:
    """None when TensorFlow can be imported, else the message telling how to install it."""
    if importlib.util.find_spec("tensorflow") is not None:
        return None
    what = f"{path}: " if path is not None else ""
    return (f"{what}converting a SavedModel or Keras model needs TensorFlow, which is not "
            f"installed; install the extra with `{INSTALL_HINT}` or convert it to .tflite first")


class ConversionError(Exception):
    """TensorFlow's converter failed or crashed: names the source and the converter's words."""


def convert_to_tflite(path: str | Path, out: str | Path) -> bytes:
    """Convert a SavedModel folder or .keras/.h5 file to a float .tflite at ``out`` with
    TFLiteConverter, in a child process (the converter is native code that can crash). Its
    temporary files (a Keras model goes through a SavedModel) are made beside ``out``, in the
    caller's temporary folder, so they go with it."""
    env = {**os.environ, "TMPDIR": str(Path(out).resolve().parent),
           "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    p = subprocess.run([sys.executable, "-m", "core.quantize.source", str(path), str(out)],
                       capture_output=True, text=True, cwd=str(ROOT), env=env)
    if p.returncode != 0:
        said = next((ln for ln in reversed(p.stderr.splitlines()) if ln.strip()), "")
        raise ConversionError(f"{path}: TFLiteConverter failed (exit {p.returncode}): {said}")
    return Path(out).read_bytes()


def _convert(path: str, out: str) -> None:
    import tensorflow as tf
    if source_kind(path) == "savedmodel":
        converter = tf.lite.TFLiteConverter.from_saved_model(path)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.models.load_model(path))
    Path(out).write_bytes(converter.convert())


if __name__ == "__main__":
    _convert(sys.argv[1], sys.argv[2])
