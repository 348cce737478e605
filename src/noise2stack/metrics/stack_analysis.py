"""What decides which denoising method works on a stack, measured from the noisy stack itself.

Three measurements, all on a sample of planes so that a 100-plane 512² stack takes seconds:

* **Noise level** per plane and a Poisson–Gaussian fit ``variance = gain · intensity + read_variance``.
  The noise is isolated by a high-pass residual: Immerkær's 3×3 kernel (the outer product of
  ``[1, -2, 1]`` with itself, divided by 6) turns white noise of variance ``v`` into a residual of
  variance ``v`` and removes constant, linear and separable-quadratic signal. With a second noisy copy
  the residual is ``(y - y') / √2`` instead, which holds no signal at all. Variances are robust
  (median absolute deviation) per intensity bin, so that sparse signal edges do not count as noise.
* **Noise correlation** between planes ``i`` and ``i + d``: a robust (Gnanadesikan–Kettenring)
  correlation of their high-pass residuals. Independent noise gives ~0; z-resampled or interpolated
  stacks give values near 1, and then Noise2Stack self-supervision learns to copy the noise.
* **Neighbour predictability** at distance ``d``: how much of plane ``i``'s signal the best scaled copy
  of plane ``i + d`` explains, ``10 log10(var_s / residual)`` with
  ``residual = var_s(i) - cov_s(i, i+d)² / var_s(i+d)`` (dB; 0 dB = unrelated planes, 20 dB = the
  neighbour explains 99 % of the signal variance). ``var_s`` and ``cov_s`` are the signal's: the
  estimated noise variance is subtracted from each plane's variance, and the estimated noise
  covariance from the covariance, so the value estimates the one of the clean stack. With a copy
  ``y'``, variances and covariances are taken across the copies (``cov(y_i, y'_j)``): they hold no
  noise, so no noise estimate enters.
* **In-plane noise autocorrelation** along Y and along X at lags ``d`` (pixels): the robust correlation
  of a noise residual with itself moved by ``d``. Along X the residual is the second difference along Y
  (``[1, -2, 1]`` down the columns), which removes signal that varies slowly along Y and leaves the
  noise's correlation along X as it is (the filter acts across rows only); along Y likewise with the
  axes swapped; with a copy, the difference of the two. White noise gives ~0; scanning microscopes
  and sCMOS / EMCCD cameras leave noise correlated along rows or columns, which a one-pixel blind
  spot (Noise2Void) cannot separate from signal.
"""

from __future__ import annotations

import numpy as np

#: Distances (planes) reported in :func:`analyze_stack`.
DISTANCES = (1, 2, 3)
#: Noise correlation between neighbouring planes above which self-supervision on neighbours fails.
CORRELATED_NOISE = 0.3
#: Predictability (dB) below which neighbouring planes are too unlike for Noise2Stack.
PREDICTABLE_DB = 2.0
#: Lags (pixels) of the in-plane noise autocorrelation.
IN_PLANE_LAGS = (1, 2, 3, 4)
#: In-plane noise autocorrelation above which a line-shaped blind spot is advised (lag 1; the line reaches
#: the farthest lag above it). Calibrated in benchmarks/quality/results/inplane_threshold.md: independent
#: noise on four stacks measures at most 0.013; Tribolium with 5 % row noise, where the struct mask gains
#: 2.47 dB over Noise2Void (blindspot.md), measures 0.159 (the first value, 0.2, missed it).
CORRELATED_IN_PLANE = 0.1
#: The predictability reported is at most this (dB): beyond it the noise estimate decides the value.
MAX_PREDICTABILITY_DB = 40.0

_MAD_TO_SIGMA = 1.4826
_BINS = 16


def highpass_residual(plane: np.ndarray) -> np.ndarray:
    """Immerkær's noise residual of a YX plane, shape ``(Y - 2, X - 2)``, float64.

    For white noise of variance ``v`` the residual has variance ``v``; signal that is locally constant,
    linear or a sum ``f(y) + g(x)`` gives 0.
    """
    p = plane.astype(np.float64)
    rows = p[:-2] - 2 * p[1:-1] + p[2:]  # second difference along Y
    return (rows[:, :-2] - 2 * rows[:, 1:-1] + rows[:, 2:]) / 6.0


def _local_mean(plane: np.ndarray) -> np.ndarray:
    """3×3 mean of a YX plane, cropped like :func:`highpass_residual`."""
    p = plane.astype(np.float64)
    rows = p[:-2] + p[1:-1] + p[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0


def _robust_var(x: np.ndarray) -> float:
    return float((_MAD_TO_SIGMA * np.median(np.abs(x - np.median(x)))) ** 2)


def _binned_noise(residual: np.ndarray, intensity: np.ndarray) -> list[tuple[float, float, int]]:
    """(mean intensity, robust noise variance, pixel count) per intensity-quantile bin."""
    flat_r, flat_i = residual.ravel(), intensity.ravel()
    order = np.argsort(flat_i, kind="stable")
    out = []
    for chunk in np.array_split(order, _BINS):
        if chunk.size < 16:
            continue
        out.append((float(flat_i[chunk].mean()), _robust_var(flat_r[chunk]), int(chunk.size)))
    return out


def robust_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Gnanadesikan–Kettenring correlation from MAD scales: sparse outliers (signal edges) barely count."""
    a, b = a.ravel(), b.ravel()
    sa, sb = np.sqrt(_robust_var(a)), np.sqrt(_robust_var(b))
    if sa == 0 or sb == 0:
        return 0.0
    u, v = a / sa, b / sb
    plus, minus = _robust_var(u + v), _robust_var(u - v)
    if plus + minus == 0:
        return 0.0
    return float((plus - minus) / (plus + minus))


def sample_planes(n_planes: int, max_pairs: int, reach: int) -> np.ndarray:
    """Indices ``i`` (evenly spaced, at most ``max_pairs``) with ``i + reach < n_planes``."""
    last = n_planes - 1 - reach
    if last < 0:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(0, last, min(max_pairs, last + 1)).round().astype(int))


def fit_poisson_gaussian(bins: list[tuple[float, float, int]]) -> dict:
    """Fit ``variance = gain · intensity + read_variance`` to (intensity, variance, count) bins.

    Returns
    -------
    dict
        ``gain`` (image units per photon), ``read_noise_variance`` (image units², the variance the
        line gives at intensity 0; negative when the camera has an offset), ``r2`` of the weighted
        fit and ``fits``: the line explains the binned variances (r² ≥ 0.8 or the variance is flat,
        and the gain is not negative).
    """
    if len(bins) < 3:
        return {"gain": None, "read_noise_variance": None, "r2": None, "fits": False}
    x = np.array([b[0] for b in bins])
    y = np.array([b[1] for b in bins])
    w = np.array([b[2] for b in bins], dtype=np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1) * np.sqrt(w)[:, None]
    (gain, read), *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    mean_y = np.average(y, weights=w)
    total = np.average((y - mean_y) ** 2, weights=w)
    resid = np.average((y - gain * x - read) ** 2, weights=w)
    r2 = 1.0 - resid / total if total > 0 else 1.0
    # Flat variance (pure Gaussian noise) has r² undefined-ish; accept it when the spread is small.
    flat = total <= (0.1 * mean_y) ** 2
    fits = bool(gain >= -1e-12 * max(abs(read), 1.0) and (r2 >= 0.8 or flat) and mean_y > 0)
    return {"gain": float(gain), "read_noise_variance": float(read), "r2": float(r2), "fits": fits}


def _ratio_db(signal_var: float, residual: float) -> float | None:
    """``10 log10(signal_var / residual)``, capped at :data:`MAX_PREDICTABILITY_DB`; None without signal."""
    if not signal_var > 0:
        return None
    floor = signal_var * 10 ** (-MAX_PREDICTABILITY_DB / 10)
    return float(10 * np.log10(signal_var / max(residual, floor)))


def analyze_stack(
    stack: np.ndarray,
    copy: np.ndarray | None = None,
    max_pairs: int = 16,
    max_side: int = 1024,
    distances: tuple[int, ...] = DISTANCES,
) -> dict:
    """Measure noise level, noise correlation between planes and neighbour predictability.

    Parameters
    ----------
    stack : ndarray, shape (Z, Y, X)
        The noisy stack, any real dtype; Y and X at least 8.
    copy : ndarray, shape (Z, Y, X), optional
        A second noisy copy of the same signal (independent noise): the noise is then measured
        from the difference of the two, exactly.
    max_pairs : int
        At most this many planes ``i`` are sampled (evenly) per distance.
    max_side : int
        Planes larger than this are cropped to their central ``max_side``² pixels.
    distances : tuple of int
        Plane distances ``d`` to measure.

    Returns
    -------
    dict
        ``neighbor_predictability_db`` and ``neighbor_predictability_raw_db`` (uncorrected) and
        ``noise_correlation_by_distance``: ``{d: value or None}`` (None: stack too short);
        ``noise_correlation``: at d = 1 (None for one plane); ``noise``: the Poisson–Gaussian fit
        plus ``variance`` (mean noise variance, image units²) and ``snr_db`` (signal variance over
        noise variance); ``copy_noise_correlation`` (noise correlation between stack and copy, or
        None); ``noise_autocorrelation``: ``{"y": {d: r}, "x": {d: r}}`` within planes (lags
        :data:`IN_PLANE_LAGS`); ``planes_sampled``; ``noise_bins``: the ``[intensity, variance, pixel count]`` bins
        the fit was made to (for plotting it).
    """
    stack, copy = _crop_centre(np.asarray(stack), copy, max_side)
    n_planes = stack.shape[0]
    reach = max(distances) if n_planes > 1 else 0
    starts = sample_planes(n_planes, max_pairs, min(reach, n_planes - 1))
    needed = sorted({int(i + d) for i in starts for d in (0, *distances) if i + d < n_planes} or {0})
    cache, bins = _measure_planes(stack, copy, needed)

    corr_by_d: dict[int, float | None] = {}
    pred: dict[int, float | None] = {}
    pred_raw: dict[int, float | None] = {}
    for d in distances:
        pairs = [(int(i), int(i + d)) for i in starts if i + d < n_planes]
        if not pairs:
            corr_by_d[d] = pred[d] = pred_raw[d] = None
            continue
        rho = float(np.median([robust_correlation(cache[i]["highpass"], cache[j]["highpass"]) for i, j in pairs]))
        corr_by_d[d] = rho
        sums = _predictability_sums(cache, pairs, rho, copy is not None)
        # Sums over pairs before the ratio: planes with more signal weigh more, empty ones do not blow up.
        pred[d] = _ratio_db(sums[0], sums[1])
        pred_raw[d] = _ratio_db(sums[2], sums[3])

    sampled = [stack[z] for z in needed]
    autocorrelation = in_plane_autocorrelation(sampled, None if copy is None else [copy[z] for z in needed])
    copy_corr = None
    if copy is not None:
        copy_corr = float(
            np.median(
                [robust_correlation(cache[z]["highpass"], highpass_residual(np.asarray(copy[z]))) for z in needed]
            )
        )
    return {
        "neighbor_predictability_db": pred,
        "neighbor_predictability_raw_db": pred_raw,
        "noise_correlation": corr_by_d.get(1) if 1 in corr_by_d else None,
        "noise_correlation_by_distance": corr_by_d,
        "noise": _noise_summary(bins, cache, copy is not None),
        "copy_noise_correlation": copy_corr,
        "noise_autocorrelation": autocorrelation,
        "planes_sampled": len(needed),
        "noise_bins": [[float(i), float(v), int(n)] for i, v, n in bins],
    }


def in_plane_autocorrelation(
    planes: list[np.ndarray], copies: list[np.ndarray] | None = None, lags: tuple[int, ...] = IN_PLANE_LAGS
) -> dict[str, dict[int, float | None]]:
    """Noise autocorrelation within planes: ``{"y": {d: r}, "x": {d: r}}``, the median over ``planes``
    (YX arrays; ``copies``: their independent noisy copies) of the robust correlation at lag ``d``;
    None where the planes are too small for the lag (see the module docstring)."""
    out: dict[str, dict[int, float | None]] = {"y": {}, "x": {}}
    for axis, name in ((0, "y"), (1, "x")):
        residuals = []
        for k, plane in enumerate(planes):
            p = np.asarray(plane, dtype=np.float64)
            if copies is not None:
                residuals.append(p - np.asarray(copies[k], dtype=np.float64))
            else:  # the second difference across the measured axis
                q = np.moveaxis(p, axis, 1)
                residuals.append(np.moveaxis(q[:-2] - 2 * q[1:-1] + q[2:], 1, axis))
        for d in lags:
            values = [
                robust_correlation(
                    np.take(r, range(r.shape[axis] - d), axis), np.take(r, range(d, r.shape[axis]), axis)
                )
                for r in residuals
                if r.shape[axis] > d + 8
            ]
            out[name][d] = float(np.median(values)) if values else None
    return out


def _crop_centre(stack: np.ndarray, copy: np.ndarray | None, max_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``stack`` and ``copy`` cropped to their central ``max_side``² pixels where planes are larger.

    The measurements are statistics over pixels: the centre of a large plane estimates them as well
    as the whole, in a bounded time.
    """
    _, height, width = stack.shape
    if height > max_side or width > max_side:
        top, left = max(0, (height - max_side) // 2), max(0, (width - max_side) // 2)
        stack = stack[:, top : top + max_side, left : left + max_side]
        if copy is not None:
            copy = np.asarray(copy)[:, top : top + max_side, left : left + max_side]
    return stack, copy


def _measure_planes(
    stack: np.ndarray, copy: np.ndarray | None, needed: list[int]
) -> tuple[dict[int, dict], list[tuple[float, float, int]]]:
    """Per-plane measurements of the planes ``needed``, and the noise bins of all of them together.

    Each plane's entry holds its centred values and variance, its high-pass residual, its noise
    variance and (with a copy) the copy's centred values: every pair of planes reuses them.
    """
    cache: dict[int, dict] = {}
    bins: list[tuple[float, float, int]] = []
    for z in needed:
        plane = stack[z].astype(np.float64)
        centred = plane - plane.mean()
        entry = {"centred": centred, "var": float(centred.var()), "highpass": highpass_residual(plane)}
        if copy is not None:
            other = np.asarray(copy[z], dtype=np.float64)
            difference = (plane - other) / np.sqrt(2.0)
            residual, intensity = difference[1:-1, 1:-1], _local_mean((plane + other) / 2)
            entry["copy_centred"] = other - other.mean()
            # The difference holds no signal: its plain mean square is the noise variance, unbiased.
            entry["noise_var"] = float(np.mean((difference - difference.mean()) ** 2))
        else:
            residual, intensity = entry["highpass"], _local_mean(plane)
        plane_bins = _binned_noise(residual, intensity)
        bins.extend(plane_bins)
        if copy is None:
            entry["noise_var"] = float(sum(v * n for _, v, n in plane_bins) / max(sum(n for *_, n in plane_bins), 1))
        cache[z] = entry
    return cache, bins


def _predictability_sums(
    cache: dict[int, dict], pairs: list[tuple[int, int]], rho: float, has_copy: bool
) -> np.ndarray:
    """Summed over the plane ``pairs`` (i, j): signal variance of i and what plane j leaves of it unexplained,
    noise-corrected (entries 0, 1) and raw (entries 2, 3).

    ``rho`` is the noise correlation at this distance: the noise covariance it implies is taken off the
    covariance of i and j, as each plane's noise variance is taken off its variance.
    """
    sums = np.zeros(4)  # corrected: var_i, residual; raw: var_i, residual
    for i, j in pairs:
        a, b = cache[i], cache[j]
        cov = float(np.mean(a["centred"] * b["centred"]))
        if has_copy:
            # Covariances across the two copies hold no noise: the signal's, without any estimate.
            var_i = float(np.mean(a["centred"] * a["copy_centred"]))
            var_j = float(np.mean(b["centred"] * b["copy_centred"]))
            cov_s = float(np.mean(a["centred"] * b["copy_centred"]) + np.mean(a["copy_centred"] * b["centred"])) / 2
        else:
            var_i, var_j = a["var"] - a["noise_var"], b["var"] - b["noise_var"]
            cov_s = cov - max(rho, 0.0) * np.sqrt(a["noise_var"] * b["noise_var"])
        if var_i > 0 and var_j > 0:
            sums[0] += var_i
            sums[1] += max(var_i - cov_s * cov_s / var_j, 0.0)
        if a["var"] > 0 and b["var"] > 0:
            sums[2] += a["var"]
            sums[3] += a["var"] - cov * cov / b["var"]
    return sums


def _noise_summary(bins: list[tuple[float, float, int]], cache: dict[int, dict], has_copy: bool) -> dict:
    """The Poisson–Gaussian fit to ``bins`` with the mean noise variance, the SNR and where the noise came from."""
    noise = fit_poisson_gaussian(bins)
    noise_var = float(np.mean([c["noise_var"] for c in cache.values()]))
    total_var = float(np.mean([c["var"] for c in cache.values()]))
    signal_var = total_var - noise_var
    noise["variance"] = noise_var
    noise["snr_db"] = float(10 * np.log10(signal_var / noise_var)) if noise_var > 0 and signal_var > 0 else None
    noise["source"] = "copy" if has_copy else "high-pass"
    return noise
