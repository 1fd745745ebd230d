"""Session fixtures for the delegate-support tests: the built models saved once, and what the real
XNNPACK delegate does with every model, read once in one child process."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.support_models import BUILT
from tests.conftest import SHARED_MODELS, all_shared_models


@pytest.fixture(scope="session")
def built_models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("support_models")
    return {name: make().save(d / f"{name}.tflite") for name, make in BUILT.items()}


@pytest.fixture(scope="session")
def xnnpack_runtime(built_models) -> dict[str, object]:
    """path -> the runtime's placement (or the ModelError it raised)."""
    from core.analysis.support.runtime import runtime_placements
    paths = [str(p) for p in built_models.values()]
    if SHARED_MODELS.is_dir():
        paths += [str(SHARED_MODELS / f"{n}.tflite") for n in all_shared_models()]
    return runtime_placements(paths)
