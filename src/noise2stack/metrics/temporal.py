"""Fidelity of a denoised time-lapse (TYX): what calcium and voltage imaging users judge a denoiser by.

PSNR says little about traces: a denoiser can gain decibels and still flatten spikes or invent
events. Three measurements, none of which needs training:

* **temporal SNR** (tSNR) per pixel: the mean over T divided by the standard deviation over T;
* **ΔF/F trace correlation** over regions (a label image, or regions found from the reference's or
  the stack's mean image): the Pearson correlation of each region's ΔF/F = (F − F0) / F0 trace
  (F0: the trace's 10th percentile) with the reference's;
* **residual whiteness**: the lag-1 autocorrelation along T, Y and X of the residual
  noisy − denoised. Independent noise removed and nothing else leaves a residual near 0 on each
  axis; signal the denoiser took away (a spike, an edge) leaves positive correlation there.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

#: The percentile of a trace taken as its baseline F0.
BASELINE_PERCENTILE = 10.0
#: Regions found automatically smaller than this (pixels) are dropped.
MIN_REGION_PIXELS = 9


def temporal_snr(stack_tyx: np.ndarray) -> np.ndarray:
    """Mean over T divided by the standard deviation over T, per pixel: (Y, X), float64 (inf where constant)."""
    stack = np.asarray(stack_tyx, dtype=np.float64)
    std = stack.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, stack.mean(axis=0) / np.where(std > 0, std, 1), np.inf)


def find_regions(image_yx: np.ndarray) -> np.ndarray:
    """Labels (Y, X) of the bright connected regions of a mean image: Otsu's threshold, components of
    at least :data:`MIN_REGION_PIXELS` pixels, numbered 1..R (0: background)."""
    image = np.asarray(image_yx, dtype=np.float64)
    if image.max() == image.min():
        return np.zeros(image.shape, dtype=np.int32)
    labels, count = ndimage.label(image > threshold_otsu(image))
    sizes = ndimage.sum(np.ones_like(image), labels, index=np.arange(1, count + 1))
    keep = np.zeros(count + 1, dtype=np.int32)
    kept = np.flatnonzero(sizes >= MIN_REGION_PIXELS) + 1
    keep[kept] = np.arange(1, len(kept) + 1)
    return keep[labels]


def region_traces(stack_tyx: np.ndarray, labels_yx: np.ndarray) -> np.ndarray:
    """Mean of each region 1..R in every frame: (R, T), float64."""
    labels = np.asarray(labels_yx)
    index = np.arange(1, int(labels.max()) + 1)
    if len(index) == 0:
        return np.zeros((0, len(stack_tyx)))
    return np.stack([ndimage.mean(np.asarray(frame, np.float64), labels, index) for frame in stack_tyx], axis=1)


def delta_f_over_f(traces: np.ndarray) -> np.ndarray:
    """(F − F0) / |F0| per trace (rows), F0 its :data:`BASELINE_PERCENTILE` th percentile (F0 = 0: F − F0)."""
    traces = np.asarray(traces, dtype=np.float64)
    f0 = np.percentile(traces, BASELINE_PERCENTILE, axis=-1, keepdims=True)
    return (traces - f0) / np.where(f0 != 0, np.abs(f0), 1.0)


def trace_correlations(stack_tyx: np.ndarray, reference_tyx: np.ndarray, labels_yx: np.ndarray) -> list[float | None]:
    """Pearson correlation of each region's ΔF/F trace with the reference's (None: a flat trace)."""
    ours = delta_f_over_f(region_traces(stack_tyx, labels_yx))
    theirs = delta_f_over_f(region_traces(reference_tyx, labels_yx))
    out: list[float | None] = []
    for a, b in zip(ours, theirs):
        out.append(float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None)
    return out


def residual_whiteness(noisy_tyx: np.ndarray, denoised_tyx: np.ndarray) -> dict[str, float]:
    """Lag-1 autocorrelation of the residual noisy − denoised along T, Y and X (each pixel's mean over T removed)."""
    residual = np.asarray(noisy_tyx, dtype=np.float64) - np.asarray(denoised_tyx, dtype=np.float64)
    residual -= residual.mean(axis=0, keepdims=True)
    out = {}
    for axis, name in enumerate("tyx"):
        n = residual.shape[axis]
        if n < 3:
            out[name] = float("nan")
            continue
        a, b = np.take(residual, range(n - 1), axis), np.take(residual, range(1, n), axis)
        denominator = np.sqrt((a * a).sum() * (b * b).sum())
        out[name] = float((a * b).sum() / denominator) if denominator > 0 else 0.0
    return out


def detect_spikes(trace: np.ndarray, threshold: float = 4.0) -> np.ndarray:
    """Frames where a trace jumps up: its frame-to-frame rise exceeds ``threshold`` x the robust
    (MAD) standard deviation of all rises; the first frame of each run above. Shape (S,), int."""
    rises = np.diff(np.asarray(trace, dtype=np.float64))
    spread = 1.4826 * np.median(np.abs(rises - np.median(rises)))
    above = rises > threshold * max(spread, 1e-12)
    onsets = above & ~np.concatenate([[False], above[:-1]])
    return np.flatnonzero(onsets) + 1  # rise k is from frame k to k + 1


def spike_scores(detected: np.ndarray, true: np.ndarray, tolerance: int = 2) -> tuple[int, int, int]:
    """(true positives, detections, true spikes): each true spike matches at most one detection
    within ``tolerance`` frames, in time order."""
    free = sorted(int(d) for d in detected)
    hits = 0
    for spike in sorted(int(s) for s in true):
        match = next((d for d in free if abs(d - spike) <= tolerance), None)
        if match is not None:
            free.remove(match)
            hits += 1
    return hits, len(detected), len(true)


def temporal_fidelity(stacks: dict[str, np.ndarray], labels: np.ndarray | None) -> dict:
    """``evaluate``'s ``temporal`` section from TYX ``stacks`` (``denoised``; ``reference``, ``noisy`` if
    given): median tSNR per stack, the ΔF/F trace correlations over ``labels`` (default: the bright
    regions of the reference's mean image) and the residual's whiteness."""
    out: dict = {"tsnr": {name: float(np.median(temporal_snr(stack))) for name, stack in stacks.items()}}
    if "reference" in stacks:
        regions = labels if labels is not None else find_regions(stacks["reference"].mean(axis=0))
        per = {
            name: trace_correlations(stacks[name], stacks["reference"], regions)
            for name in ("denoised", "noisy")
            if name in stacks
        }
        out["trace_correlation"] = {
            "regions": int(regions.max()),
            **{name: _median(values) for name, values in per.items()},
            "per_region": per["denoised"],
        }
    if "noisy" in stacks:
        out["residual_whiteness"] = residual_whiteness(stacks["noisy"], stacks["denoised"])
    return out


def _median(values: list) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.median(finite)) if finite else None
