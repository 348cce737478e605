"""A synthetic calcium-imaging movie with known ground truth (issue 24, time-lapse fidelity).

Round cells on a dim background; each cell fires at random frames (a Poisson process) and its
fluorescence follows F = F0 (1 + Σ a exp(−(t − t_spike) / τ)) after each spike (an instantaneous rise,
an exponential decay, as GCaMP transients); cells may drift by up to a pixel or two over the movie.
Poisson–Gaussian noise as :func:`noise2stack.noise.add_noise` draws it. Everything is seeded, and
the default movie (200 frames of 64²) is small enough for a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noise2stack.noise.simulate import add_noise


@dataclass(frozen=True)
class CalciumMovie:
    """A synthetic movie and its truth.

    Attributes
    ----------
    clean, noisy : ndarray, shape (T, Y, X), float32
        The noise-free and the noisy movie (image units: the clean movie's maximum is 1).
    labels : ndarray, shape (Y, X), int32
        The cells' footprints in frame 0 (1..R; 0: background).
    spikes : list of ndarray
        The frames at which each cell fired (cell r: ``spikes[r - 1]``).
    """

    clean: np.ndarray
    noisy: np.ndarray
    labels: np.ndarray
    spikes: list[np.ndarray]


def calcium_movie(
    frames: int = 200,
    side: int = 64,
    cells: int = 12,
    rate: float = 0.03,
    tau: float = 8.0,
    amplitude: float = 1.0,
    drift: float = 0.0,
    peak: float = 20.0,
    sigma: float = 0.02,
    seed: int = 0,
) -> CalciumMovie:
    """Draw a movie of ``cells`` cells of radius 3-5 px on a ``side``² field over ``frames`` frames.

    ``rate``: spikes per frame and cell; ``tau``: decay (frames); ``amplitude``: ΔF/F of one spike;
    ``drift``: pixels each cell moves in total along a random direction (0: static); ``peak``:
    photons at the clean maximum; ``sigma``: Gaussian read noise as a fraction of the maximum.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side].astype(np.float64)
    centres = rng.uniform(6, side - 6, size=(cells, 2))
    radii = rng.uniform(3, 5, size=cells)
    baselines = rng.uniform(0.25, 0.5, size=cells)
    directions = rng.normal(size=(cells, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    spikes = [np.flatnonzero(rng.random(frames) < rate) for _ in range(cells)]
    t = np.arange(frames)
    clean = np.full((frames, side, side), 0.1)
    labels = np.zeros((side, side), dtype=np.int32)
    for r in range(cells):
        calcium = np.zeros(frames)
        for s in spikes[r]:
            calcium[s:] += amplitude * np.exp(-(t[s:] - s) / tau)
        trace = baselines[r] * (1.0 + calcium)
        path = centres[r] + np.outer(t / max(frames - 1, 1), directions[r] * drift)
        for k in range(frames):
            inside = (yy - path[k, 0]) ** 2 + (xx - path[k, 1]) ** 2 <= radii[r] ** 2
            clean[k][inside] = np.maximum(clean[k][inside], trace[k])
        labels[(yy - centres[r, 0]) ** 2 + (xx - centres[r, 1]) ** 2 <= radii[r] ** 2] = r + 1
    clean = (clean / clean.max()).astype(np.float32)
    noisy = add_noise(clean, "poisson-gaussian", sigma=sigma, peak=peak, seed=seed + 1)
    return CalciumMovie(clean, noisy, labels, spikes)
