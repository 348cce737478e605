"""Poisson–Gaussian noise estimated from noisy data alone ("est. NM", paper 004 §5.3, after Foi et al. 2008).

Model: ``var(x | s) = gain * s + read_variance`` (raw units; ``gain`` = units per photon,
``read_variance`` = variance of the signal-independent Gaussian part).

Estimate (a block version of Foi's local estimates):

1. Each plane is cut into 8x8 blocks. Per block, the mean is the level, and the noise variance is
   the mean square of the 16 diagonal Haar coefficients ``(a - b - c + d) / 2`` of its 2x2 cells
   (unbiased for independent noise of constant variance; blind to constant, horizontal and vertical
   ramps of the signal).
2. Blocks are grouped by level into quantile bins. Blocks with structure are dropped: the mean
   square of their horizontal and vertical Haar coefficients must stay below 1.6 times the bin's
   median diagonal estimate.
3. Each bin's variance is the mean of its flat blocks' estimates (unbiased; the median was
   measured to scatter more).
4. A line ``var = gain * level + read_variance`` is fitted by least squares weighted by
   ``count / var²``, twice, dropping bins more than 3 robust deviations off the first line.

:func:`to_histogram` turns ``(gain, read_variance)`` into the histogram form of
:mod:`noise2stack.noise.histogram`: row ``s`` = the exact Poisson-Gaussian distribution (Poisson
counts of mean ``s / gain`` at ``gain`` apart, each smeared by the read noise), integrated over
each observation bin.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, ndtr

from noise2stack.errors import Noise2StackError
from noise2stack.noise.histogram import BINS, HistogramNoiseModel, data_range

BLOCK = 8
CHI2_16_MEDIAN_RATIO = 0.9590  # median of chi2(16) / 16


def _blocks(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 8x8 block: mean, diagonal-Haar variance and horizontal/vertical-Haar variance."""
    h, w = (plane.shape[0] // BLOCK) * BLOCK, (plane.shape[1] // BLOCK) * BLOCK
    p = plane[:h, :w]
    a, b, c, d = p[0::2, 0::2], p[0::2, 1::2], p[1::2, 0::2], p[1::2, 1::2]
    diag = ((a - b - c + d) / 2) ** 2
    hv = (((a + c - b - d) / 2) ** 2 + ((a + b - c - d) / 2) ** 2) / 2
    half = BLOCK // 2

    def block_mean(values: np.ndarray) -> np.ndarray:
        return values.reshape(values.shape[0] // half, half, values.shape[1] // half, half).mean(axis=(1, 3)).ravel()

    level = p.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3)).ravel()
    return level, block_mean(diag), block_mean(hv)


def estimate(stack: np.ndarray, level_bins: int = 40) -> dict:
    """Estimate gain and read-noise variance from a noisy ``ZYX`` (or ``YX``) stack.

    Returns
    -------
    dict
        ``gain`` (units per photon), ``read_variance`` (units²), and the binned points
        ``levels``, ``variances`` used for the fit.
    """
    stack = np.asarray(stack, dtype=np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.ndim != 3 or min(stack.shape[1:]) < 2 * BLOCK:
        raise Noise2StackError(
            f"noise estimation needs planes of at least {2 * BLOCK}x{2 * BLOCK} pixels, got {stack.shape}"
        )
    levels, variances, structure = (np.concatenate(parts) for parts in zip(*(_blocks(plane) for plane in stack)))
    level_bins = max(3, min(level_bins, levels.size // 25))  # small data: fewer, fuller bins
    edges = np.unique(np.quantile(levels, np.linspace(0, 1, level_bins + 1)))
    if edges.size < 4:
        raise Noise2StackError("the data spans too few intensity levels to fit a Poisson-Gaussian noise model")
    index = np.clip(np.searchsorted(edges, levels, side="right") - 1, 0, edges.size - 2)
    points, counts = [], []
    for k in range(edges.size - 1):
        chosen = index == k
        if chosen.sum() < 10:
            continue
        # Flatness is judged by the horizontal/vertical coefficients against the bin's typical
        # variance, never against the block's own diagonal estimate: the two are independent for
        # noise, so keeping flat blocks does not bias the diagonal estimates kept.
        typical = np.median(variances[chosen]) / CHI2_16_MEDIAN_RATIO
        flat = chosen & (structure < 1.6 * typical)
        if flat.sum() >= 10:
            points.append((np.mean(levels[flat]), np.mean(variances[flat])))
            counts.append(flat.sum())
    if len(points) < 3:
        raise Noise2StackError(
            "too few flat regions to estimate the noise; build the model from pairs or a calibration stack"
        )
    x, y = np.array(points).T
    n = np.array(counts, dtype=np.float64)
    keep = np.ones(x.size, dtype=bool)
    gain, read_variance = 0.0, float(np.median(y))
    for _ in range(2):
        weights = n[keep] / np.maximum(y[keep], 1e-30) ** 2
        design = np.stack([x[keep], np.ones(keep.sum())], axis=1)
        sw = np.sqrt(weights)
        gain, read_variance = np.linalg.lstsq(design * sw[:, None], y[keep] * sw, rcond=None)[0]
        residual = (y - (gain * x + read_variance)) / np.maximum(y, 1e-30) * np.sqrt(n)
        scale = 1.4826 * np.median(np.abs(residual[keep])) + 1e-12
        keep = np.abs(residual) < 3 * scale
        if keep.sum() < 3:
            break
    return {
        "gain": float(gain),
        "read_variance": float(read_variance),
        "levels": x.tolist(),
        "variances": y.tolist(),
    }


MAX_COUNTS = 2000  # beyond this many photons over the range, Poisson is Gaussian to the bins' eye


def to_histogram(
    gain: float,
    read_variance: float,
    value_range: tuple[float, float],
    bins: int = BINS,
    provenance: dict | None = None,
) -> HistogramNoiseModel:
    """The histogram model of Poisson-Gaussian noise: ``x = gain * Poisson(s / gain) + N(0, read_variance)``.

    Each row is the exact mixture: Poisson photon counts of mean ``s / gain``, each count
    ``k`` at ``gain * k`` smeared by the read noise, integrated over each observation bin. At a few
    photons this is skewed and, where the read noise is narrower than ``gain``, a comb; its
    Gaussian approximation (mean ``s``, variance ``gain * s + read_variance``) trained PN2V 2.3 dB
    worse on Tribolium at peak 30 (issue 23). Zero photons are at value 0, as the fit assumes.
    Where the range holds more than ``MAX_COUNTS`` photons, or ``gain`` is 0, the Gaussian form is
    used (indistinguishable there). Rows below 0 (no photons) are the read noise around ``s``.
    """
    low, high = value_range
    width = (high - low) / bins
    edges = low + np.arange(bins + 1) * width
    centres = edges[:-1] + width / 2
    # never narrower than a bin, so that every row has mass near its own centre
    read_sd = max(math.sqrt(max(read_variance, 0.0)), width / 2)
    photons = max(high, 0.0) / gain if gain > 0 else math.inf  # at the top of the range
    if photons > MAX_COUNTS:
        sd = np.sqrt(np.maximum(max(gain, 0.0) * np.maximum(centres, 0.0) + read_variance, (width / 2) ** 2))
        rows = _gaussian_rows(edges, centres, sd)
    else:
        counts = np.arange(int(photons + 10 * math.sqrt(photons + 1) + 20))  # the Poisson tail included
        per_count = _gaussian_rows(edges, gain * counts, np.full(counts.size, read_sd))
        mean_counts = np.maximum(centres, 0.0)[:, None] / gain
        weights = np.exp(counts * np.log(np.maximum(mean_counts, 1e-300)) - mean_counts - gammaln(counts + 1.0))
        rows = weights @ per_count
        below = centres < 0
        rows[below] = _gaussian_rows(edges, centres[below], np.full(below.sum(), read_sd))
    rows /= rows.sum(axis=1, keepdims=True)
    info = {"made_from": "poisson-gaussian", "gain": gain, "read_variance": read_variance, **(provenance or {})}
    return HistogramNoiseModel(rows, low, high, info)


def _gaussian_rows(edges: np.ndarray, means: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Per mean, the mass of a Gaussian of that mean and ``sd`` in each bin between ``edges``."""
    return np.diff(ndtr((edges[None, :] - means[:, None]) / sd[:, None]), axis=1)


def estimate_model(stack: np.ndarray, provenance: dict | None = None) -> HistogramNoiseModel:
    """Estimate the Poisson–Gaussian parameters of ``stack`` and return them as a histogram model."""
    fit = estimate(stack)
    gain, read_variance = fit["gain"], fit["read_variance"]
    clipped = {}
    if gain < 0:
        clipped["gain_fitted"] = gain
        gain = 0.0
    if read_variance < 0:
        clipped["read_variance_fitted"] = read_variance
        read_variance = 0.0
    info = {"estimated_from": "noisy data", **clipped, **(provenance or {})}
    return to_histogram(gain, read_variance, data_range(stack), provenance=info)
