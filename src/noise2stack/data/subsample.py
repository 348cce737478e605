"""The Noise2SR sub-sampler (paper 002 §2.2, Fig. 2).

A plane of H × W pixels (H, W even) is cut into 2 × 2 cells; one pixel per cell, chosen uniformly
and independently, forms the (H/2) × (W/2) sub-image y_J (cell (i, j) gives pixel (i, j) of y_J).
The complement mask m_J (H × W) is 1 on the other three pixels of every cell and 0 on the chosen
one, so that the loss sees exactly the pixels the network was not given.
"""

from __future__ import annotations

import numpy as np

from noise2stack.errors import Noise2StackError


def subsample(plane: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sub-sample ``plane`` (..., H, W) with one random pixel per 2×2 cell.

    Parameters
    ----------
    plane : ndarray, shape (..., H, W), H and W even
        Leading axes (channels) share the chosen positions.
    rng : numpy.random.Generator

    Returns
    -------
    sub : ndarray, shape (..., H/2, W/2)
        The chosen pixels y_J.
    mask : ndarray, shape (..., H, W), float32
        1 on the complement J^c (three pixels per cell), 0 on the chosen pixels.
    """
    height, width = plane.shape[-2:]
    if height % 2 or width % 2:
        raise Noise2StackError(f"the Noise2SR sub-sampler needs even plane sides, got {height}x{width}")
    choice = rng.integers(4, size=(height // 2, width // 2))  # 0..3 = position in the cell, row-major
    dy, dx = choice // 2, choice % 2
    rows = 2 * np.arange(height // 2)[:, None] + dy
    cols = 2 * np.arange(width // 2)[None, :] + dx
    sub = plane[..., rows, cols]
    mask = np.ones(plane.shape, dtype=np.float32)
    mask[..., rows, cols] = 0.0
    return np.ascontiguousarray(sub), mask
