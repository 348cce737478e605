"""PSNR, SSIM and NRMSE per plane, with optional CARE normalisation (paper 000 §2.4).

The metric functions are scikit-image's (``peak_signal_noise_ratio``, ``structural_similarity`` with
its default 7×7 window, ``normalized_root_mse`` with Euclidean normalisation); this module only
decides what they are given:

* ``normalize="none"``: prediction and reference as they are, ``data_range`` = max − min of the
  reference plane.
* ``normalize="care"`` (Weigert et al., CARE): the reference plane is percentile-normalised
  (0.1 → 0, 99.9 → 1), the prediction plane is mapped by the affine ``a·x + b`` that minimises its
  squared error to that, and ``data_range`` = 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from noise2stack.errors import Noise2StackError

Normalization = Literal["none", "care"]


def care_normalize(
    prediction: np.ndarray, reference: np.ndarray, percentiles: tuple[float, float] = (0.1, 99.9)
) -> tuple[np.ndarray, np.ndarray]:
    """CARE's percentile + affine normalisation of one (prediction, reference) pair.

    Returns
    -------
    (prediction_scaled, reference_normalized) : float64 arrays of the input shape
    """
    ref = np.asarray(reference, dtype=np.float64)
    low, high = np.percentile(ref, percentiles)
    ref_n = (ref - low) / max(high - low, np.finfo(np.float64).eps)
    x = np.asarray(prediction, dtype=np.float64).ravel()
    design = np.stack([x, np.ones_like(x)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, ref_n.ravel(), rcond=None)
    return (a * np.asarray(prediction, dtype=np.float64) + b), ref_n


def plane_metrics(prediction: np.ndarray, reference: np.ndarray, normalize: Normalization = "none") -> dict:
    """PSNR (dB), SSIM and NRMSE of one 2-D plane."""
    if normalize == "care":
        pred, ref = care_normalize(prediction, reference)
        data_range = 1.0
    elif normalize == "none":
        pred = np.asarray(prediction, dtype=np.float64)
        ref = np.asarray(reference, dtype=np.float64)
        data_range = float(ref.max() - ref.min())
    else:
        raise Noise2StackError(f"unknown `normalize` {normalize!r}; use none or care")
    if data_range <= 0:
        data_range = 1.0  # a constant reference plane: any positive range gives a finite score
    win = min(7, *ref.shape)
    win -= 1 - win % 2  # SSIM's window must be odd
    if win < 3:
        raise Noise2StackError(f"planes of {ref.shape[0]}x{ref.shape[1]} pixels are too small for SSIM (need 3x3)")
    if np.any(ref):
        nrmse = float(normalized_root_mse(ref, pred))
    else:  # an all-zero reference: the Euclidean normalisation is 0/0
        nrmse = 0.0 if not np.any(pred) else float("inf")
    with np.errstate(divide="ignore"):  # identical planes: PSNR is +inf, as scikit-image returns
        psnr = float(peak_signal_noise_ratio(ref, pred, data_range=data_range))
    return {
        "psnr": psnr,
        "ssim": float(structural_similarity(ref, pred, data_range=data_range, win_size=win)),
        "nrmse": nrmse,
    }


def evaluate_stack(prediction: np.ndarray, reference: np.ndarray, normalize: Normalization = "none") -> dict:
    """Metrics per plane of two ``ZYX`` stacks and their means.

    Returns
    -------
    dict
        ``psnr``, ``ssim``, ``nrmse`` (means over planes) and ``per_plane``: a list of dicts with
        ``plane`` and the three values.
    """
    if prediction.shape != reference.shape:
        raise Noise2StackError(f"prediction shape {prediction.shape} differs from reference shape {reference.shape}")
    per_plane = [
        {"plane": z, **plane_metrics(prediction[z], reference[z], normalize)} for z in range(reference.shape[0])
    ]
    means = {k: float(np.mean([p[k] for p in per_plane])) for k in ("psnr", "ssim", "nrmse")}
    return {**means, "normalize": normalize, "per_plane": per_plane}
