"""Session fixtures for the delegate-support tests: the built models saved once, and what the real
XNNPACK delegate does with each model, asked once per model (worker job xnnpack_placement)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.support_models import BUILT


@pytest.fixture(scope="session")
def built_models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("support_models")
    return {name: make().save(d / f"{name}.tflite") for name, make in BUILT.items()}


class _Placements(dict):
    def __missing__(self, path):
        from core.analysis.support.runtime import runtime_placement
        self[path] = value = runtime_placement(path)
        return value


@pytest.fixture(scope="session")
def xnnpack_runtime() -> dict[str, dict]:
    """path -> the runtime's placement, each model asked once per test session."""
    return _Placements()
