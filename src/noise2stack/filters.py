"""Training-free denoisers: BM3D, non-local means, median and Gaussian filters, plane by plane.

Each filter is a function ``(plane, sigma, options) -> plane`` in :data:`FILTERS`. ``sigma`` is
the noise standard deviation in image units; when not given it is estimated per plane with
scikit-image's ``estimate_sigma`` (Donoho's robust median of the finest wavelet coefficients,
which assumes Gaussian noise). ``average_neighbors=K`` first averages every plane with its K
neighbours on each side (the "avg input" variants of paper 003, Table 1); at the stack's ends only
the planes that exist are averaged.

BM3D comes from the optional ``bm3d`` package (non-commercial licence):
``pip install 'noise2stack[bm3d]'``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, estimate_sigma
from tqdm.auto import tqdm

from noise2stack.errors import Noise2StackError

BM3D_HINT = "BM3D needs the optional package bm3d (non-commercial licence): pip install 'noise2stack[bm3d]'"


def _bm3d(plane: np.ndarray, sigma: float, options: dict) -> np.ndarray:
    try:
        import bm3d
    except ImportError:
        raise Noise2StackError(BM3D_HINT) from None
    return np.asarray(bm3d.bm3d(plane, sigma_psd=sigma), dtype=np.float32)


def _nlm(plane: np.ndarray, sigma: float, options: dict) -> np.ndarray:

    # h = 0.8 sigma with sigma subtracted from distances: scikit-image's recommended setting
    return denoise_nl_means(plane, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True).astype(
        np.float32
    )


def _median(plane: np.ndarray, sigma: float, options: dict) -> np.ndarray:
    return ndimage.median_filter(plane, size=int(options.get("size", 3)), mode="reflect")


def _gaussian(plane: np.ndarray, sigma: float, options: dict) -> np.ndarray:
    return ndimage.gaussian_filter(plane, sigma=float(options.get("smoothing", 1.0)), mode="reflect")


FILTERS: dict[str, Callable[[np.ndarray, float, dict], np.ndarray]] = {
    "bm3d": _bm3d,
    "nlm": _nlm,
    "median": _median,
    "gaussian": _gaussian,
}
NEEDS_SIGMA = {"bm3d", "nlm"}


def average_neighbors(stack: np.ndarray, k: int) -> np.ndarray:
    """Mean of each plane and its ``k`` neighbours on each side (only existing planes), float32."""
    if k < 0:
        raise Noise2StackError("`average_neighbors` must be >= 0")
    if k == 0:
        return stack.astype(np.float32)
    csum = np.concatenate([np.zeros((1, *stack.shape[1:])), np.cumsum(stack, axis=0, dtype=np.float64)])
    z = np.arange(stack.shape[0])
    lo, hi = np.maximum(z - k, 0), np.minimum(z + k, stack.shape[0] - 1) + 1
    return ((csum[hi] - csum[lo]) / (hi - lo)[:, None, None]).astype(np.float32)


def estimate_noise_sigma(plane: np.ndarray) -> float:
    """Gaussian noise sigma of a plane (image units), wavelet-MAD estimate."""

    return float(estimate_sigma(plane.astype(np.float64)))


def _denoise_plane(args) -> np.ndarray:
    name, plane, sigma, options = args
    if name in NEEDS_SIGMA and sigma is None:
        sigma = estimate_noise_sigma(plane)
    return FILTERS[name](plane.astype(np.float32), sigma, options).astype(np.float32)


def denoise_stack(
    stack: np.ndarray,
    method: str,
    sigma: float | None = None,
    average: int = 0,
    workers: int | None = None,
    progress: bool = False,
    **options,
) -> np.ndarray:
    """Denoise every plane of a ``ZYX`` stack with a training-free filter.

    Parameters
    ----------
    stack : ndarray, shape (Z, Y, X)
    method : {"bm3d", "nlm", "median", "gaussian"}
    sigma : float, optional
        Noise standard deviation in image units (BM3D, NLM); estimated per plane if None.
    average : int
        Average each plane with this many neighbours on each side first.
    workers : int, optional
        Processes (default: one per CPU core); planes are denoised in parallel.
    options
        ``size`` (median, pixels), ``smoothing`` (Gaussian, pixels).

    Returns
    -------
    ndarray, shape (Z, Y, X), float32
    """
    if method not in FILTERS:
        raise Noise2StackError(f"unknown filter {method!r}; choose one of {', '.join(FILTERS)}")
    if sigma is not None and not sigma > 0:
        raise Noise2StackError("`sigma` must be > 0")
    if method == "bm3d":
        _bm3d_available()
    planes = average_neighbors(stack, average)
    jobs = [(method, p, sigma, options) for p in planes]
    workers = workers or os.cpu_count() or 1
    bar = None
    if progress:
        bar = tqdm(total=len(jobs), unit="plane", desc=f"{method}")
    out = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for plane in pool.map(_denoise_plane, jobs):
                out.append(plane)
                if bar is not None:
                    bar.update(1)
    else:
        for job in jobs:
            out.append(_denoise_plane(job))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return np.stack(out)


def _bm3d_available() -> None:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        raise Noise2StackError(BM3D_HINT) from None
