"""Synthetic noise for stacks that have no clean reference of their own noise.

* ``gaussian``: ``x + N(0, sigma²)``, ``sigma`` in image units.
* ``poisson``: scale so that the image maximum is ``peak`` photons, draw Poisson counts, scale back
  (the lower the peak, the noisier).
* ``poisson-gaussian``: Poisson as above, then Gaussian with ``sigma`` in image units.
"""

from __future__ import annotations

import numpy as np

from noise2stack.errors import Noise2StackError

NOISE_KINDS = ("gaussian", "poisson", "poisson-gaussian")  # per pixel; "kspace" lives in noise.kspace


def add_noise(
    clean: np.ndarray,
    noise: str,
    sigma: float | None = None,
    peak: float | None = None,
    seed: int | None = 0,
) -> np.ndarray:
    """Return a float32 noisy copy of ``clean`` (same shape, same units).

    Parameters
    ----------
    clean : ndarray
        Non-negative for the Poisson kinds.
    noise : {"gaussian", "poisson", "poisson-gaussian"}
    sigma : float
        Gaussian standard deviation in image units (required for the Gaussian kinds).
    peak : float
        Photon count of the image maximum (required for the Poisson kinds).
    seed : int or None
        Seed of NumPy's default generator.
    """
    if noise not in NOISE_KINDS:
        raise Noise2StackError(f"unknown noise {noise!r}; use one of {', '.join(NOISE_KINDS)}")
    rng = np.random.default_rng(seed)
    x = np.asarray(clean, dtype=np.float64)
    out = x
    if noise in ("poisson", "poisson-gaussian"):
        if peak is None or not peak > 0:
            raise Noise2StackError(f"`noise` {noise} needs `peak` > 0 (photons at the image maximum)")
        if x.min() < 0:
            raise Noise2StackError("Poisson noise needs a non-negative image")
        top = float(x.max())
        if top == 0:
            raise Noise2StackError("Poisson noise needs an image that is not all zeros")
        scale = peak / top
        out = rng.poisson(x * scale) / scale
    if noise in ("gaussian", "poisson-gaussian"):
        if sigma is None or not sigma >= 0:
            raise Noise2StackError(f"`noise` {noise} needs `sigma` >= 0 (image units)")
        out = out + rng.normal(0.0, sigma, size=x.shape)
    return out.astype(np.float32)
