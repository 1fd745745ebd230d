"""Shared fixtures: the third-party models in ../shared/models (skipped when absent) and models
the core builder makes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = Path(os.environ.get("LITELENS_SHARED_MODELS", ROOT.parent / "shared" / "models"))

# Facts about the shared models (from shared/models/SOURCES.md, not from our code).
RUNNABLE = ["face_detection_short_range", "hand_recrop", "sine_float", "mobilenet_v2_224_float32",
            "mobilenet_v2_224_int8", "transformer_encoder_dynint8", "lstm_gru_text_float32",
            "multi_signature_float32", "selfie_segmentation"]
NOT_ALLOCATABLE = ["face_landmark_with_attention", "mobilenet_v2_224_int16x8", "flex_ops_float32"]


def shared_model_path(name: str) -> Path:
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"shared test models not found at {SHARED_MODELS} (clone with ../shared "
                    "beside the checkout, or set LITELENS_SHARED_MODELS)")
    p = SHARED_MODELS / f"{name}.tflite"
    if not p.is_file():
        pytest.skip(f"shared model {p.name} is not in {SHARED_MODELS}")
    return p


def all_shared_models() -> list[str]:
    if not SHARED_MODELS.is_dir():
        return RUNNABLE + NOT_ALLOCATABLE  # each test then skips with the reason
    return sorted(p.stem for p in SHARED_MODELS.glob("*.tflite"))


@pytest.fixture
def shared_model():
    """shared_model("name") -> Path, skipping the test when ../shared is absent."""
    return shared_model_path


@pytest.fixture(scope="session")
def demo_model_path() -> Path:
    from core.model.samples import demo_model_path
    return demo_model_path()


@pytest.fixture
def build_model(tmp_path):
    """build_model(ModelBuilder, name) -> Path of the saved .tflite in tmp_path."""
    def build(mb, name: str = "built.tflite", **kw) -> Path:
        return mb.save(tmp_path / name, **kw)
    return build


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1 for the module's remote runs (tests/inference/sshd.py),
    skipped with the reason where sshd cannot run."""
    from tests.inference.sshd import serve
    yield from serve(tmp_path_factory)
