"""Shared fixtures: paths to the real data beside the checkout, small synthetic stacks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

#: The real data sets, ``shared/data`` beside the checkout unless NOISE2STACK_SHARED_DATA names another place.
SHARED_DATA = Path(
    os.environ.get("NOISE2STACK_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"real data not found at {SHARED_DATA}: clone the repo beside shared/, or set NOISE2STACK_SHARED_DATA"
            " to the folder holding the data sets (a test that needs them never skips silently)"
        )
    return SHARED_DATA


def smooth_stack(n_planes: int = 7, height: int = 40, width: int = 36, seed: int = 0) -> np.ndarray:
    """A smooth positive float32 ZYX stack whose planes differ (blobs drifting along Z)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(np.arange(n_planes), np.arange(height), np.arange(width), indexing="ij")
    out = np.zeros((n_planes, height, width), dtype=np.float64)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 8)
        out += np.exp(-(((y - cy - 0.5 * z) ** 2 + (x - cx) ** 2) / (2 * r**2)))
    return (100 * out + 10).astype(np.float32)


@pytest.fixture
def tiny_stack() -> np.ndarray:
    return smooth_stack()


@pytest.fixture
def make_stack():
    """The :func:`smooth_stack` generator, for tests that need stacks of other sizes."""
    return smooth_stack
