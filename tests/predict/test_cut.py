"""Stitching by cutting the overlaps: each pixel from exactly one tile, cut in the overlap's middle.

The tiler with ``stitch="cut"`` is compared with the bare forward pass in test_tiling.py; here the
cut geometry and its merger by hand.
"""

import numpy as np

from noise2stack.predict.cut import CutMerger, cut_bounds, plan
from noise2stack.predict.grid import tile_starts


def test_cut_bounds_partition_at_the_middle_of_each_overlap():
    starts = tile_starts(100, 40, 20, 1)  # [0, 20, 40, 60]
    assert starts == [0, 20, 40, 60]
    assert cut_bounds(starts, 40, 100) == [(0, 30), (30, 50), (50, 70), (70, 100)]
    assert cut_bounds([0], 40, 40) == [(0, 40)]


def test_the_merger_takes_each_pixel_from_the_tile_that_keeps_it():
    ys, xs = plan(12, 8, 4, 0, 1), plan(6, 8, 4, 0, 1)  # Y: tiles at 0 and 4, cut at 6; X: one tile
    assert ys.starts == (0, 4) and ys.keeps == ((0, 6), (6, 12)) and xs.keeps == ((0, 6),)
    merger = CutMerger(ys, xs, scale=2, overlap=4)
    merger.add(0, 0, np.full((1, 16, 12), 1.0, dtype=np.float32))
    merger.add(1, 0, np.full((1, 16, 12), 2.0, dtype=np.float32))
    plane = merger.finish()
    assert plane.shape == (1, 24, 12)
    np.testing.assert_array_equal(plane[0, :, 0], [1.0] * 12 + [2.0] * 12)
