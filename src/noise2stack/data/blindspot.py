"""Noise2Void blind-spot masking (Krull et al. 2019; N2V2: Höck et al. 2022).

In every patch a small, stratified random set of pixels is chosen (one per cell of a regular grid,
so they spread over the patch); each is replaced by another pixel of its ``window`` × ``window``
neighbourhood (default 11, as CAREamics' ``roi_size=11`` and the n2v package's
``n2v_neighborhood_radius=5``; ``uniform``, as in N2V) or by the median of that neighbourhood
without the pixel itself (``median``, as in N2V2). The loss is computed on those pixels only, so the network cannot learn
the identity.

structN2V (Broaddus et al. 2020), against noise correlated along rows or columns: ``struct`` =
(reach along Y, reach along X) also replaces the pixels up to that many rows above and below, and
columns left and right, of each masked pixel with values drawn uniformly between the patch's
minimum and maximum (as CAREamics' struct mask), before the masked pixels get their replacements
(so a replacement never copies a pixel whose noise the masked one shares).
"""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.cache
def window_offsets(window: int = 11) -> np.ndarray:
    """(dy, dx) of every pixel of an odd ``window`` x ``window`` square but its centre: (window² - 1, 2)."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"the replacement window must be odd and at least 3, got {window}")
    r = window // 2
    offsets = np.array([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if (dy, dx) != (0, 0)])
    offsets.flags.writeable = False  # cached and shared by every call
    return offsets


def grid_shape(height: int, width: int, n: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid with at least ``n`` cells (at most one pixel each)."""
    rows = max(1, min(height, math.ceil(math.sqrt(n * height / width))))
    cols = max(1, min(width, math.ceil(n / rows)))
    return rows, cols


def stratified_pixels(
    height: int, width: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``max(1, round(fraction * height * width))`` pixels, at most one per grid cell.

    Cell ``(r, c)`` of the :func:`grid_shape` grid spans rows ``r*height//rows`` to
    ``(r+1)*height//rows`` (and likewise for columns).
    """
    n = min(max(1, round(fraction * height * width)), height * width)
    rows, cols = grid_shape(height, width, n)
    cells = rng.choice(rows * cols, size=n, replace=False)
    r, c = np.divmod(cells, cols)
    y0, y1 = (r * height) // rows, ((r + 1) * height) // rows
    x0, x1 = (c * width) // cols, ((c + 1) * width) // cols
    ys = y0 + (rng.random(len(cells)) * (y1 - y0)).astype(int)
    xs = x0 + (rng.random(len(cells)) * (x1 - x0)).astype(int)
    return ys, xs


def _inside(ys: np.ndarray, xs: np.ndarray, offsets: np.ndarray, height: int, width: int) -> np.ndarray:
    yy, xx = ys[..., None] + offsets[..., 0], xs[..., None] + offsets[..., 1]
    return (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)


def line_pixels(
    ys: np.ndarray, xs: np.ndarray, struct: tuple[int, int], height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the line masks around each (ys, xs) inside the patch, the centres excluded."""
    reach_y, reach_x = struct
    offsets = [(d, 0) for d in range(-reach_y, reach_y + 1) if d] + [(0, d) for d in range(-reach_x, reach_x + 1) if d]
    if not offsets:
        return np.zeros(0, int), np.zeros(0, int)
    steps = np.array(offsets)
    yy, xx = (ys[:, None] + steps[None, :, 0]).ravel(), (xs[:, None] + steps[None, :, 1]).ravel()
    keep = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
    return yy[keep], xx[keep]


def mask_patch(
    patch: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    replacement: str = "uniform",
    window: int = 11,
    struct: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """Blind-spot a (C, Y, X) patch (C = 1 for N2V).

    Near the border the ``window`` × ``window`` square is cut to the patch, so a replacement always
    comes from another pixel of the patch. ``struct``: structN2V's line masks (module docstring).

    Returns
    -------
    (masked, mask) : masked copy of ``patch``, and a (1, Y, X) float32 mask with 1 at replaced pixels
    """
    _, height, width = patch.shape
    if min(height, width) < 3:
        raise ValueError("blind-spot masking needs patches of at least 3x3 pixels")
    ys, xs = stratified_pixels(height, width, fraction, rng)
    offsets = window_offsets(window)  # cached: one array per window size
    masked = patch.copy()
    if any(struct):
        line_y, line_x = line_pixels(ys, xs, struct, height, width)
        low, high = patch.min(axis=(1, 2)), patch.max(axis=(1, 2))
        draws = rng.random((patch.shape[0], len(line_y))).astype(patch.dtype)
        masked[:, line_y, line_x] = low[:, None] + draws * (high - low)[:, None]
        patch = masked.copy()  # the centres' replacements come from the struck patch
    if replacement == "uniform":
        # draw one offset per pixel among those that stay inside the patch
        valid = _inside(ys, xs, offsets[None], height, width)  # (n, window² - 1)
        scores = np.where(valid, rng.random(valid.shape), -1.0)
        pick = offsets[np.argmax(scores, axis=1)]
        masked[:, ys, xs] = patch[:, ys + pick[:, 0], xs + pick[:, 1]]
    elif replacement == "median":
        valid = _inside(ys, xs, offsets[None], height, width)
        yy = np.clip(ys[:, None] + offsets[None, :, 0], 0, height - 1)
        xx = np.clip(xs[:, None] + offsets[None, :, 1], 0, width - 1)
        values = np.where(valid[None], patch[:, yy, xx], np.nan)
        masked[:, ys, xs] = np.nanmedian(values, axis=-1)
    else:
        raise ValueError(f"unknown replacement {replacement!r}")
    mask = np.zeros((1, height, width), dtype=np.float32)
    mask[0, ys, xs] = 1.0
    return masked, mask
