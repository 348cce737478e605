"""Histogram noise model p(x | s) of Probabilistic Noise2Void (paper 004 §5.2, Figure 3).

A 2-D histogram of ``bins x bins`` (256 x 256) over one intensity range ``[low, high)`` (raw data
units), rows = signal ``s``, columns = observation ``x``. Every row is normalised to a probability
distribution over the observation bins; dividing by the bin width gives a density in 1/units.

Lookup (as the PN2V reference code): the observation picks its bin (values outside the range fall
into the end bins); the signal is interpolated *linearly between the two nearest row centres*, so
p(x | s) is continuous and piecewise linear in ``s`` and differentiable almost everywhere (it is
used inside the loss, eq. 7). Signals beyond the outermost row centres use the end rows.

Rows that received no data (signal levels absent from the calibration) are filled with the nearest
filled row, so that every row is a distribution.

The model is stored as an ``.npz`` without object arrays (read with ``allow_pickle=False``) holding
``probabilities`` (bins, bins) float64, ``low``, ``high`` (scalars) and ``provenance`` (a JSON
string saying how the model was made).

Units: the model is built in raw data units. Networks work in normalised units
``u = (v - low_value) * scale + out_low``; :meth:`HistogramNoiseModel.rescaled` maps the model's axes
by the same affine map (exact: both axes are linear in the data), so loss and MMSE run in network
units and the densities there are the raw ones divided by ``scale``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path

BINS = 256
TINY_DENSITY = 1e-30  # floor of p(x|s) so that log p stays finite (an empty histogram bin is not impossible)
#: Rows (signal bins) with fewer (signal, observation) pairs borrow the shape of a well-filled row.
MIN_ROW_COUNT = 100
#: Weight of a broad Gaussian mixed into p(x | s) (see :meth:`HistogramNoiseModel.log_likelihood`).
TAIL_WEIGHT = 1e-6
#: Its standard deviation, as a fraction of the model's range.
TAIL_WIDTH = 0.25


@dataclass
class HistogramNoiseModel:
    """p(x | s) as a row-normalised 2-D histogram.

    Attributes
    ----------
    probabilities : ndarray, shape (bins, bins), float64
        Row ``r`` (signal bin) is a distribution over observation bins; rows sum to 1.
    low, high : float
        Intensity range covered by both axes (units of the data the model describes).
    provenance : dict
        How the model was made (JSON-able).
    """

    probabilities: np.ndarray
    low: float
    high: float
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = np.asarray(self.probabilities)
        if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 2:
            raise Noise2StackError(f"a noise model needs a square histogram of at least 2x2 bins, got shape {p.shape}")
        if not np.isfinite(p).all():
            raise Noise2StackError("the noise model holds NaN or Inf values")
        if (p < 0).any():
            raise Noise2StackError("the noise model holds negative probabilities")
        sums = p.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-6):
            raise Noise2StackError("the noise model's rows do not sum to 1 (not a distribution per signal level)")
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise Noise2StackError(f"the noise model's range [{self.low}, {self.high}] is empty or not finite")
        self.probabilities = p.astype(np.float64)
        self.low, self.high = float(self.low), float(self.high)

    @property
    def bins(self) -> int:
        return self.probabilities.shape[0]

    @property
    def bin_width(self) -> float:
        return (self.high - self.low) / self.bins

    def signal_centres(self) -> np.ndarray:
        """Signal value of each row (bin centre), shape (bins,)."""
        return self.low + (np.arange(self.bins) + 0.5) * self.bin_width

    def densities(self) -> np.ndarray:
        """p(x | s) per unit of x, shape (bins, bins)."""
        return self.probabilities / self.bin_width

    # -- lookup ------------------------------------------------------------------------------
    def log_likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """log p(x | s), broadcast over the shapes of ``observation`` and ``signal``.

        Differentiable in ``signal`` (linear interpolation between row centres). A measured
        histogram has compact support: a row is zero beyond a few noise standard deviations, so
        where every sample of a pixel lies outside the support of its observation the loss is
        flat and that pixel teaches nothing (an untrained network's samples sit in one cluster,
        paper 004 §4.2). Measured on Tribolium, PN2V and pn2stack with the histogram of the true
        noise stayed at the input's PSNR after 120 s. So ``TAIL_WEIGHT`` of a broad Gaussian in
        ``x - s`` (standard deviation ``TAIL_WIDTH`` of the range) is mixed in: it changes p by
        at most 1e-6 relative where the histogram has mass, and elsewhere it pulls samples
        towards the observation. The density is also floored at ``TINY_DENSITY``.
        """
        table = torch.as_tensor(self.densities(), dtype=torch.float32, device=signal.device)
        observation, signal = torch.broadcast_tensors(observation.to(signal.dtype), signal)
        col = torch.clamp(((observation - self.low) / self.bin_width).floor(), 0, self.bins - 1).long()
        row_f = torch.clamp((signal - self.low) / self.bin_width - 0.5, 0, self.bins - 1)
        row0 = row_f.detach().floor().clamp(max=self.bins - 2).long()
        frac = row_f - row0.to(row_f.dtype)
        p0 = table[row0, col]
        p1 = table[row0 + 1, col]
        log_hist = torch.log(torch.clamp((1 - TAIL_WEIGHT) * (p0 * (1 - frac) + p1 * frac), min=TINY_DENSITY))
        width = TAIL_WIDTH * (self.high - self.low)
        log_tail = (
            math.log(TAIL_WEIGHT)
            - 0.5 * ((observation - signal) / width) ** 2
            - math.log(width * math.sqrt(2 * math.pi))
        )
        return torch.logaddexp(log_hist, log_tail.to(log_hist.dtype))

    def likelihood(self, observation: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """p(x | s) (density per unit of x); see :meth:`log_likelihood`."""
        return torch.exp(self.log_likelihood(observation, signal))

    def rescaled(self, offset: float, scale: float, out_low: float = 0.0) -> HistogramNoiseModel:
        """The same model for data mapped by ``u = (v - offset) * scale + out_low`` (scale > 0)."""
        if not scale > 0:
            raise Noise2StackError("a noise model can only be rescaled by a positive factor")
        low = (self.low - offset) * scale + out_low
        high = (self.high - offset) * scale + out_low
        info = {**self.provenance, "rescaled": {"offset": offset, "scale": scale, "out_low": out_low}}
        return HistogramNoiseModel(self.probabilities, low, high, info)

    def check_covers(self, low: float, high: float, what: str = "the data") -> None:
        """Raise unless ``[low, high]`` lies within the model's range (one bin of slack)."""
        below = self.low - low
        above = high - self.high
        slack = self.bin_width
        if below > slack or above > slack:
            parts = []
            if below > slack:
                parts.append(f"{below:.4g} below")
            if above > slack:
                parts.append(f"{above:.4g} above")
            raise Noise2StackError(
                f"the noise model covers [{self.low:.4g}, {self.high:.4g}] but {what} spans "
                f"[{low:.4g}, {high:.4g}] ({' and '.join(parts)}); pass `noise_model_clip` to clip the data into the "
                "model's range, or make a model that covers it (noise-model `estimate_from`)"
            )

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model as a pickle-free ``.npz`` (atomically)."""
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    probabilities=self.probabilities,
                    low=np.float64(self.low),
                    high=np.float64(self.high),
                    provenance=np.str_(json.dumps(self.provenance, sort_keys=True)),
                )

    @classmethod
    def load(cls, path: str | os.PathLike) -> HistogramNoiseModel:
        """Read a model written by :meth:`save`; never unpickles.

        Raises
        ------
        Noise2StackError
            If the file is missing, holds a pickle or object arrays, misses a field, or holds a
            histogram of the wrong shape, with negative or non-finite entries.
        """
        p = Path(path)
        if not p.is_file():
            raise Noise2StackError(f"noise model not found: {p}")
        try:
            with np.load(p, allow_pickle=False) as data:
                if not hasattr(data, "files"):
                    raise Noise2StackError(f"{p} is not a noise model (.npz expected)")
                missing = [k for k in ("probabilities", "low", "high") if k not in data.files]
                if missing:
                    raise Noise2StackError(f"{p} is not a noise model (missing {', '.join(missing)})")
                probabilities = data["probabilities"]
                low, high = data["low"], data["high"]
                provenance_text = str(data["provenance"]) if "provenance" in data.files else "{}"
        except Noise2StackError:
            raise
        except ValueError as exc:
            if "pickle" in str(exc):
                raise Noise2StackError(
                    f"{p} holds pickled data; noise models are plain arrays, refusing to load it"
                ) from None
            raise Noise2StackError(f"{p} is not a noise model: {str(exc).splitlines()[0]}") from None
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise Noise2StackError(
                f"{p} is not a noise model: {str(exc).splitlines()[0] or type(exc).__name__}"
            ) from None
        if probabilities.dtype.kind not in "fiu":
            raise Noise2StackError(f"{p}: the histogram must hold numbers, got {probabilities.dtype}")
        if low.shape != () or high.shape != () or low.dtype.kind not in "fiu" or high.dtype.kind not in "fiu":
            raise Noise2StackError(f"{p}: low and high must be single numbers")
        if probabilities.shape != (BINS, BINS):
            raise Noise2StackError(f"{p}: the histogram must be {BINS}x{BINS}, got shape {probabilities.shape}")
        try:
            provenance = json.loads(provenance_text)
        except json.JSONDecodeError:
            raise Noise2StackError(f"{p}: the provenance record is not valid JSON") from None
        try:
            return cls(probabilities, float(low), float(high), provenance if isinstance(provenance, dict) else {})
        except Noise2StackError as exc:
            raise Noise2StackError(f"{p}: {exc}") from None


def _normalise_rows(counts: np.ndarray, min_count: int = MIN_ROW_COUNT) -> np.ndarray:
    """Rows divided by their sums. A row with fewer than ``min_count`` pairs is the nearest
    well-filled row shifted along the observation axis by the signal difference (the noise keeps
    its shape, its centre follows s).

    Why: the brightest signals of a stack are rare, and a row of a handful of pairs is a few spikes,
    not a distribution; PN2V's loss then pulls samples towards whichever row happens to hold the
    observed value (measured on Tribolium: samples spread over 370 of 680 units and the MMSE
    estimate stayed at the input's PSNR). A plain copy of the nearest row would make p(x | s)
    constant in ``s`` beyond the calibrated signals, so nothing would keep samples from drifting
    there. With fewer than ``min_count`` pairs in every row, the fullest row serves.
    """
    sums = counts.sum(axis=1)
    if not (sums > 0).any():
        raise Noise2StackError("no (signal, observation) pair fell into the histogram")
    filled = np.flatnonzero(sums >= min(min_count, sums.max()))
    bins = counts.shape[0]
    rows = np.arange(bins)
    nearest = filled[np.abs(rows[:, None] - filled[None, :]).argmin(axis=1)]
    out = counts[nearest] / sums[nearest][:, None]
    for r in np.setdiff1d(rows, filled):
        shift = int(r - nearest[r])
        source = out[r].copy()
        shifted = np.zeros(bins)
        if shift > 0:
            shifted[shift:] = source[: bins - shift]
            shifted[-1] += source[bins - shift :].sum()  # mass pushed past the range stays in the end bin
        else:
            shifted[: bins + shift] = source[-shift:]
            shifted[0] += source[:-shift].sum()
        out[r] = shifted
    return out


def data_range(*arrays: np.ndarray) -> tuple[float, float]:
    """(min, max) over all arrays, widened by half a per-mille so the maximum falls inside the last bin."""
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    if not high > low:
        raise Noise2StackError(f"the data is constant ({low:g}); a noise model needs a range of values")
    pad = 5e-4 * (high - low)
    return low - pad, high + pad


def from_pairs(
    signal: np.ndarray,
    observation: np.ndarray,
    bins: int = BINS,
    value_range: tuple[float, float] | None = None,
    provenance: dict | None = None,
) -> HistogramNoiseModel:
    """Histogram model from clean ``signal`` and noisy ``observation`` arrays of one shape.

    Parameters
    ----------
    signal, observation : ndarray, same shape (any), raw units
    bins : int
        Bins per axis (256 as in paper 004).
    value_range : (float, float), optional
        Range of both axes; default: the range of both arrays together.
    """
    signal = np.asarray(signal, dtype=np.float64)
    observation = np.asarray(observation, dtype=np.float64)
    if signal.shape != observation.shape:
        raise Noise2StackError(
            f"`signal` has shape {signal.shape} but `observation` has shape {observation.shape}; they must match"
        )
    if signal.size == 0:
        raise Noise2StackError("the signal and observation are empty")
    if not (np.isfinite(signal).all() and np.isfinite(observation).all()):
        raise Noise2StackError("the signal or observation contains NaN or Inf values")
    low, high = value_range or data_range(signal, observation)
    counts, _, _ = np.histogram2d(signal.ravel(), observation.ravel(), bins=bins, range=[[low, high], [low, high]])
    info = {"made_from": "pairs", "pixels": int(signal.size), **(provenance or {})}
    return HistogramNoiseModel(_normalise_rows(counts), low, high, info)


def from_calibration(stack: np.ndarray, bins: int = BINS, provenance: dict | None = None) -> HistogramNoiseModel:
    """Histogram model from repeated noisy images of one static scene, ``ZYX`` (004 Figure 3).

    The mean over the planes is the signal; every plane is an observation of it.
    """
    stack = np.asarray(stack, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] < 2:
        planes = stack.shape[0] if stack.ndim == 3 else 1
        raise Noise2StackError(
            f"a calibration stack needs at least 2 repeated images of one scene (its mean is the signal); got {planes}"
        )
    signal = np.broadcast_to(stack.mean(axis=0), stack.shape)
    info = {"made_from": "calibration", "planes": int(stack.shape[0]), **(provenance or {})}
    return from_pairs(signal, stack, bins=bins, provenance=info)


def plot(model: HistogramNoiseModel, path: str | os.PathLike, levels: int = 5) -> None:
    """Write a PNG of p(x | s) for ``levels`` signal levels spread over the range (as 004 Figure 3)."""

    centres = model.signal_centres()
    fig = Figure(figsize=(10, 4))
    (ax_img, ax_lines) = fig.subplots(1, 2)
    extent = [model.low, model.high, model.high, model.low]
    ax_img.imshow(np.sqrt(model.densities()), extent=extent, cmap="magma", aspect="auto")
    ax_img.set_xlabel("observation x")
    ax_img.set_ylabel("signal s")
    ax_img.set_title("p(x | s) (square root)")
    x = torch.as_tensor(centres, dtype=torch.float32)
    for s in np.linspace(centres[0], centres[-1], levels + 2)[1:-1]:
        p = model.likelihood(x, torch.full_like(x, float(s))).numpy()
        ax_lines.plot(centres, p, label=f"s = {s:.4g}")
    ax_lines.set_xlabel("observation x")
    ax_lines.set_ylabel("density")
    ax_lines.legend(fontsize=8)
    ax_lines.set_title(str(model.provenance.get("made_from", "noise model")))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
