"""Stitching by blending: each tile's core in a window with the network's whole context.

Why the result does not depend on the tiling: a U-Net output pixel depends only on input pixels
within ``context`` pixels of it (``net.context``, measured with impulses) and on the alignment of
the max-pooling grid. The padded plane is cut into *cores* (``tile`` pixels, origins on the pooling
grid) that cover it. Each core is predicted from a *window* that adds a halo of ``context`` pixels
(rounded up to the pooling grid) read from the plane itself, and only the core is kept. Where a
window meets the plane's border it sees exactly the border the whole-plane pass sees; elsewhere the
halo holds every pixel the core depends on. The result equals whole-plane prediction to float
rounding for every tile size on the pooling grid, every overlap and every plane size (tested).

All windows have one size (windows near a border are shifted inwards, which only adds context), so
tiles of all planes go through the network in batches without per-tile shape logic. ``overlap``
only sets a linear blending ramp between neighbouring cores; it costs time and changes nothing but
rounding for an exact network, and is kept for networks whose ``context`` is an estimate.
"""

from __future__ import annotations

import numpy as np

from noise2stack.predict.grid import AxisPlan, Stitch, tile_starts, window_start


def blend_weights(tile: int, start: int, length: int, ramp: int) -> np.ndarray:
    """1-D weights of one core along one axis: a linear ramp over ``ramp`` pixels on sides that face another core.

    Sides at the plane's borders keep weight 1.
    """
    w = np.ones(min(tile, length), dtype=np.float32)
    profile = (np.arange(1, ramp + 1) / (ramp + 1)).astype(np.float32)[: w.size]
    if start > 0 and profile.size:
        w[: profile.size] = np.minimum(w[: profile.size], profile)
    if start + w.size < length and profile.size:
        w[w.size - profile.size :] = np.minimum(w[w.size - profile.size :], profile[::-1])
    return w


def plan(length: int, tile: int, overlap: int, halo: int, align: int) -> AxisPlan:
    """Cores of ``tile`` px overlapping by ``overlap``, each in a window ``halo`` px wider on both sides."""
    core = min(tile, length)
    window = min(core + 2 * halo, length)
    cores = tile_starts(length, core, overlap, align)
    starts = tuple(window_start(c, halo, window, length) for c in cores)
    return AxisPlan(length, window, starts, tuple((c, c + core) for c in cores))


class BlendMerger:
    """The weighted mean of the cores (weights: :func:`blend_weights` with a ramp of ``overlap`` px).

    Parameters
    ----------
    ys, xs : AxisPlan
        The windows along Y and X.
    scale : int
        Output pixels per input pixel.
    overlap : int
        The ramp in input pixels.
    """

    def __init__(self, ys: AxisPlan, xs: AxisPlan, scale: int, overlap: int) -> None:
        self.ys, self.xs, self.scale = ys, xs, scale
        self.single = len(ys.starts) == 1 and len(xs.starts) == 1  # one window: no stitching
        ramp = overlap * scale
        wy = [blend_weights((b - a) * scale, a * scale, ys.length * scale, ramp) for a, b in ys.keeps]
        wx = [blend_weights((b - a) * scale, a * scale, xs.length * scale, ramp) for a, b in xs.keeps]
        self.weights = {(iy, ix): np.outer(wy[iy], wx[ix]) for iy in range(len(wy)) for ix in range(len(wx))}
        self.weight_sum = np.zeros((ys.length * scale, xs.length * scale), dtype=np.float32)
        for (iy, ix), w in self.weights.items():  # the same order as the cores arrive: the same rounding
            self.weight_sum[self._region(iy, ix)] += w
        self.accumulator: np.ndarray | None = None
        self.whole: np.ndarray | None = None

    def _region(self, iy: int, ix: int) -> tuple[slice, slice]:
        (y0, y1), (x0, x1), s = self.ys.keeps[iy], self.xs.keeps[ix], self.scale
        return slice(y0 * s, y1 * s), slice(x0 * s, x1 * s)

    def add(self, iy: int, ix: int, prediction: np.ndarray) -> None:
        if self.single:
            self.whole = prediction
            return
        if self.accumulator is None:  # the channels are known from the first prediction
            self.accumulator = np.zeros((prediction.shape[0], *self.weight_sum.shape), dtype=np.float32)
        region = self._region(iy, ix)
        oy = region[0].start - self.ys.starts[iy] * self.scale
        ox = region[1].start - self.xs.starts[ix] * self.scale
        core = prediction[:, oy : oy + region[0].stop - region[0].start, ox : ox + region[1].stop - region[1].start]
        self.accumulator[(slice(None),) + tuple(region)] += self.weights[(iy, ix)] * core

    def finish(self) -> np.ndarray:
        if self.single:
            assert self.whole is not None, "finish() before add()"
            return self.whole
        assert self.accumulator is not None, "finish() before add()"
        plane = self.accumulator / self.weight_sum
        self.accumulator[:] = 0
        return plane


def default_overlap(context: int, align: int) -> int:
    """Cores abut: the halo already makes the result exact."""
    return 0


BLEND = Stitch(plan, BlendMerger, default_overlap)
