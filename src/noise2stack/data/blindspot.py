"""Noise2Void blind-spot masking (Krull et al. 2019; N2V2: Höck et al. 2022).

In every patch a small, stratified random set of pixels is chosen (one per cell of a regular grid,
so they spread over the patch); each is replaced by another pixel of its 5×5 neighbourhood
(``uniform``, as in N2V) or by the median of that neighbourhood without the pixel itself
(``median``, as in N2V2). The loss is computed on those pixels only, so the network cannot learn
the identity.
"""

from __future__ import annotations

import math

import numpy as np

_OFFSETS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)])


def stratified_pixels(height: int, width: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of ``max(1, round(fraction * height * width))`` pixels, at most one per grid cell."""
    n = max(1, round(fraction * height * width))
    side = max(1.0, math.sqrt(height * width / n))
    rows, cols = max(1, int(height // side)), max(1, int(width // side))
    cells = rng.choice(rows * cols, size=min(n, rows * cols), replace=False)
    r, c = np.divmod(cells, cols)
    y0, y1 = (r * height) // rows, ((r + 1) * height) // rows
    x0, x1 = (c * width) // cols, ((c + 1) * width) // cols
    ys = y0 + (rng.random(len(cells)) * (y1 - y0)).astype(int)
    xs = x0 + (rng.random(len(cells)) * (x1 - x0)).astype(int)
    return ys, xs


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    index = np.abs(index)
    return np.where(index >= size, 2 * size - 2 - index, index)


def mask_patch(
    patch: np.ndarray, fraction: float, rng: np.random.Generator, replacement: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
    """Blind-spot a (C, Y, X) patch (C = 1 for N2V).

    Returns
    -------
    (masked, mask) : masked copy of ``patch``, and a (1, Y, X) float32 mask with 1 at replaced pixels
    """
    _, height, width = patch.shape
    if min(height, width) < 3:
        raise ValueError("blind-spot masking needs patches of at least 3x3 pixels")
    ys, xs = stratified_pixels(height, width, fraction, rng)
    masked = patch.copy()
    if replacement == "uniform":
        pick = _OFFSETS[rng.integers(len(_OFFSETS), size=len(ys))]
        # reflection never maps a non-zero offset back onto the pixel itself
        yy, xx = _reflect(ys + pick[:, 0], height), _reflect(xs + pick[:, 1], width)
        masked[:, ys, xs] = patch[:, yy, xx]
    elif replacement == "median":
        yy = _reflect(ys[:, None] + _OFFSETS[None, :, 0], height)
        xx = _reflect(xs[:, None] + _OFFSETS[None, :, 1], width)
        masked[:, ys, xs] = np.median(patch[:, yy, xx], axis=-1)
    else:
        raise ValueError(f"unknown replacement {replacement!r}")
    mask = np.zeros((1, height, width), dtype=np.float32)
    mask[0, ys, xs] = 1.0
    return masked, mask
