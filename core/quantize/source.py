"""Quantizing from a source model (SavedModel folder, .keras/.h5): TensorFlow's converter makes
the float .tflite, then the same recipes and verification run on it. TensorFlow is an optional
extra; without it the user is told how to install it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

INSTALL_HINT = "pip install 'LiteLens[tensorflow]'"


def source_kind(path: str | Path) -> str:
    """"savedmodel", "keras" or "tflite"."""
    p = Path(path)
    if p.is_dir():
        return "savedmodel"
    if p.suffix.lower() in (".keras", ".h5"):
        return "keras"
    return "tflite"


def tensorflow_missing(path: str | Path | None = None) -> str | None:
    """None when TensorFlow can be imported, else the message telling how to install it."""
    if importlib.util.find_spec("tensorflow") is not None:
        return None
    what = f"{path}: " if path is not None else ""
    return (f"{what}converting a SavedModel or Keras model needs TensorFlow, which is not "
            f"installed; install the extra with `{INSTALL_HINT}` or convert it to .tflite first")


def convert_to_tflite(path: str | Path) -> bytes:
    """The float .tflite of a SavedModel folder or .keras/.h5 file (TFLiteConverter)."""
    import tensorflow as tf
    if source_kind(path) == "savedmodel":
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path))
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.models.load_model(path))
    return bytes(converter.convert())
