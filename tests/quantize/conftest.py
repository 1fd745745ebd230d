"""Quantize tests: each runs with a temporary root of its own, checked empty afterwards."""
from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path_factory, monkeypatch):
    """Every test here (and the CLI or converter it starts) gets its own temporary root;
    afterwards nothing may be left in it, on any path: no ``litelens-quantize-*`` folder of the
    job, no ``litelens-run-*`` of its worker."""
    root = tmp_path_factory.mktemp("tmproot")
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield
    assert sorted(p.name for p in root.iterdir()) == []
