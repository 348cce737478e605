"""MRI k-space undersampling noise and spectral post-processing (paper 000 §2.3, after Noise2Noise).

Simulation, per plane: 2-D FFT; keep frequency ``k`` independently with probability
``p(k) = exp(-λ·|k|)``, ``|k|`` the distance from DC in frequency steps (``fftfreq × size``, so
the DC term is always kept); ``λ`` is solved so that the expected kept fraction, the mean of
``p`` over the plane, equals ``keep``; kept values are multiplied by ``1/p(k)``, the rest set to zero;
inverse FFT. The result is complex (a masked spectrum is not Hermitian-symmetric); the image is its
**real part**: the weighted spectrum is an unbiased estimate of the true one (E[mask/p] = 1), the
inverse FFT is linear, so the real part is an unbiased estimate of the real image, which is what
Noise2Noise-style training needs. A magnitude image would be biased upwards.

The sidecar file (``.npz``, read with ``allow_pickle=False``) holds what the post-processing needs:

========== ================ =============================================================
key        dtype, shape     meaning
========== ================ =============================================================
format     str              ``"noise2stack-kspace-1"``
mask       bool (Z, Y, X)   sampled frequencies, NumPy FFT order (DC at [0, 0])
measured   complex64 (Z,Y,X) the true spectrum at sampled frequencies (not 1/p-weighted), 0 elsewhere
p          float32 (Y, X)   sampling probability of each frequency
keep, lam  float64 ()       requested kept fraction and the solved λ
========== ================ =============================================================

Post-processing: transform the network output to k-space, put back the measured values at the
sampled frequencies of every given sidecar (two independent corruptions: the union of their masks),
transform back, real part. Applied to a noisy input itself with the sidecars of two independent
corruptions, this is the paper's two-copy spectral combination baseline (22.4 dB there).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
from scipy.optimize import brentq

from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path

SIDECAR_FORMAT = "noise2stack-kspace-1"


def radial_frequency(height: int, width: int) -> np.ndarray:
    """|k|: distance of every FFT bin from DC, in frequency steps, shape (height, width)."""
    ky = np.fft.fftfreq(height) * height
    kx = np.fft.fftfreq(width) * width
    return np.hypot(ky[:, None], kx[None, :])


def solve_lambda(height: int, width: int, keep: float) -> float:
    """λ such that the mean of exp(-λ|k|) over a height×width spectrum equals ``keep``."""
    if not 0 < keep <= 1:
        raise Noise2StackError(f"`keep` must be in (0, 1], got {keep}")
    k = radial_frequency(height, width)
    if keep == 1:
        return 0.0
    if keep <= 1 / k.size:
        raise Noise2StackError(f"`keep` {keep} keeps less than the DC term of a {height}x{width} plane")
    return float(brentq(lambda lam: np.exp(-lam * k).mean() - keep, 0.0, 1e3, xtol=1e-12))


def undersample(stack: np.ndarray, keep: float, seed: int | None = 0) -> tuple[np.ndarray, dict]:
    """Corrupt every plane of a ``ZYX`` stack by k-space undersampling.

    Returns
    -------
    noisy : ndarray (Z, Y, X) float32
    sidecar : dict
        The arrays of the sidecar file (see the module docstring).
    """
    _, height, width = stack.shape
    lam = solve_lambda(height, width, keep)
    p = np.exp(-lam * radial_frequency(height, width))
    rng = np.random.default_rng(seed)
    spectrum = np.fft.fft2(stack.astype(np.float64), axes=(-2, -1))
    mask = rng.random(stack.shape) < p
    noisy = np.fft.ifft2(np.where(mask, spectrum / p, 0), axes=(-2, -1)).real.astype(np.float32)
    sidecar = {
        "format": np.array(SIDECAR_FORMAT),
        "mask": mask,
        "measured": np.where(mask, spectrum, 0).astype(np.complex64),
        "p": p.astype(np.float32),
        "keep": np.float64(keep),
        "lam": np.float64(lam),
    }
    return noisy, sidecar


def write_sidecar(path: str | os.PathLike, sidecar: dict) -> None:

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **sidecar)


def read_sidecar(path: str | os.PathLike) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise Noise2StackError(f"cannot read k-space sidecar {path}: {exc}") from None
    if str(out.get("format", "")) != SIDECAR_FORMAT or not {"mask", "measured"} <= set(out):
        raise Noise2StackError(f"{path} is not a noise2stack k-space sidecar")
    return out


def consistent_spectrum(spectrum: np.ndarray, sidecars: list[dict]) -> np.ndarray:
    """Put the measured values into a (Z, Y, X) spectrum wherever any sidecar sampled; nothing else changes.

    Sampled values are exact measurements, so where two corruptions both sampled a frequency their
    values agree; the later sidecar's value is used.
    """
    for side in sidecars:
        if side["mask"].shape != spectrum.shape:
            raise Noise2StackError(
                f"the k-space sidecar is for a stack of shape {side['mask'].shape}, not {spectrum.shape}"
            )
        spectrum = np.where(side["mask"], side["measured"], spectrum)
    return spectrum


def spectral_consistency(stack: np.ndarray, sidecars: list[dict]) -> np.ndarray:
    """Post-process a ``ZYX`` image stack: FFT, :func:`consistent_spectrum`, inverse FFT, real part.

    The sampling is independent per frequency (not Hermitian-symmetric), so the corrected spectrum
    is not exactly that of a real image; its real part averages each frequency with its mirror
    partner ``-k``. A frequency sampled together with its partner is reproduced exactly.
    """
    spectrum = np.fft.fft2(stack.astype(np.float64), axes=(-2, -1))
    return np.fft.ifft2(consistent_spectrum(spectrum, sidecars), axes=(-2, -1)).real.astype(np.float32)
