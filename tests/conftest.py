"""Shared fixtures. ``SR_SHARED`` points at the project's shared data (benchmarks, official weights);
tests that need it skip with a reason when it is absent, so an outside user's run still passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


def _shared_dir() -> Path | None:
    env = os.environ.get("SR_SHARED")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[1].parent / "shared"]
    for c in candidates:
        if (c / "data" / "benchmarks").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    d = _shared_dir()
    if d is None:
        pytest.skip("shared data not found: set SR_SHARED to the folder holding data/benchmarks and weights/")
    return d


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
