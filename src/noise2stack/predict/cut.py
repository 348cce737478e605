"""Stitching by cutting the overlaps instead of blending them (paper 003 §2.2.3).

The authors of paper 003 denoise large planes in 256 px patches with a 20 px overlap, and "in contrast to
weighting the overlapping values, we cut them out". Here: tiles of side ``tile`` (rounded down to
the pooling grid ``2**depth``) start at the origins of :func:`noise2stack.predict.grid.tile_starts`
(stride ``tile - overlap`` on the grid, the last tile flush with the padded plane's end), and
every output pixel is taken from exactly one tile: along each axis, two consecutive tiles starting
at ``a < b`` share ``[b, a + tile)``, and the cut is at ``m = (a + tile + b) // 2``: the first tile
keeps everything before ``m``, the second everything from ``m``. The plane's own borders are kept
from the tile that touches them. A kept pixel lies at least ``floor(overlap / 2)`` pixels from the
side of its tile that faces another tile, so with ``overlap >= 2 * context`` (the default, rounded
up to the grid) the result equals the whole-plane prediction to float rounding; with the paper's
20 px and a larger ``context`` it does not, and seams may show.
"""

from __future__ import annotations

import numpy as np

from noise2stack.predict.grid import AxisPlan, Stitch, round_up, tile_starts


def cut_bounds(starts: list[int], tile: int, length: int) -> list[tuple[int, int]]:
    """The ``[from, to)`` range each tile keeps along one axis; the ranges partition ``[0, length)``."""
    cuts = [(a + tile + b) // 2 for a, b in zip(starts[:-1], starts[1:])]
    return list(zip([0] + cuts, cuts + [length]))


def plan(length: int, tile: int, overlap: int, halo: int, align: int) -> AxisPlan:
    """Windows of ``tile`` px overlapping by ``overlap``, each keeping its share up to the cuts
    (``halo`` is unused: the overlap is all the context a window gets)."""
    window = min(tile, length)
    starts = tile_starts(length, window, overlap, align)
    return AxisPlan(length, window, tuple(starts), tuple(cut_bounds(starts, window, length)))


class CutMerger:
    """Each output pixel from the one window that keeps it (the ranges partition the plane).

    Parameters
    ----------
    ys, xs : AxisPlan
        The windows along Y and X.
    scale : int
        Output pixels per input pixel.
    overlap : int
        Unused (the cuts are in the plans).
    """

    def __init__(self, ys: AxisPlan, xs: AxisPlan, scale: int, overlap: int) -> None:
        self.ys, self.xs, self.scale = ys, xs, scale
        self.plane: np.ndarray | None = None

    def add(self, iy: int, ix: int, prediction: np.ndarray) -> None:
        s = self.scale
        if self.plane is None:  # the channels are known from the first prediction
            self.plane = np.zeros((prediction.shape[0], self.ys.length * s, self.xs.length * s), dtype=np.float32)
        (y0, y1), (x0, x1) = self.ys.keeps[iy], self.xs.keeps[ix]
        wy, wx = self.ys.starts[iy], self.xs.starts[ix]
        self.plane[:, y0 * s : y1 * s, x0 * s : x1 * s] = prediction[
            :, (y0 - wy) * s : (y1 - wy) * s, (x0 - wx) * s : (x1 - wx) * s
        ]

    def finish(self) -> np.ndarray:
        # every pixel is written again by the next plane's windows, so the buffer is reused
        assert self.plane is not None, "finish() before add()"
        return self.plane


def default_overlap(context: int, align: int) -> int:
    """Twice the context: every kept pixel then sees all the context it depends on."""
    return round_up(2 * context, align)


CUT = Stitch(plan, CutMerger, default_overlap)
