"""The Noise2SR sub-sampler: one pixel per 2x2 cell, mask and sub-image complementary."""

import numpy as np
import pytest

from noise2stack.data.subsample import subsample
from noise2stack.errors import Noise2StackError


def test_one_pixel_per_cell_and_complementary_mask():
    plane = np.arange(8 * 6, dtype=np.float32).reshape(1, 8, 6)  # every value unique
    sub, mask = subsample(plane, np.random.default_rng(3))
    assert sub.shape == (1, 4, 3) and mask.shape == (1, 8, 6)
    for i in range(4):
        for j in range(3):
            cell = plane[0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            cell_mask = mask[0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            assert cell_mask.sum() == 3  # exactly one pixel per cell taken out of the loss
            assert cell[cell_mask == 0].tolist() == [sub[0, i, j]]  # ... and it is the sub-image's pixel
    # every pixel is either in the sub-image or in the mask, never both
    assert sorted(sub.ravel().tolist() + plane[mask == 1].tolist()) == plane.ravel().tolist()


def test_choice_is_random_and_uniform_over_the_cell():
    plane = np.tile(np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32), (50, 50))[None]
    sub, _ = subsample(plane, np.random.default_rng(0))
    counts = np.bincount(sub.astype(int).ravel(), minlength=4)
    assert counts.sum() == 2500 and np.all(np.abs(counts - 625) < 100)  # ~ 4 sigma


def test_odd_sides_refused():
    with pytest.raises(Noise2StackError, match="even"):
        subsample(np.zeros((1, 5, 4), np.float32), np.random.default_rng(0))
