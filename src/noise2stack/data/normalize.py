"""Intensity normalisation whose statistics travel with the model.

``percentile`` (paper 000 §3.2, after CARE): optionally subtract a per-pixel median background image
(the camera pattern, the median over all planes), then map the ``low``/``high`` percentiles of the
training data to 0 and 1. ``minmax`` (the paper's MRI runs): map the data's minimum and maximum to
``out_low`` and ``out_high`` (default −0.5, 0.5). ``meanstd`` (CAREamics, n2v): zero mean and unit
standard deviation, stored as the same affine map (mean ∓ std to ∓1). Predictions are mapped back with :meth:`Normalizer.denormalize`,
so outputs come back in input units (background added back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from noise2stack.errors import Noise2StackError


@dataclass
class Normalizer:
    """Affine intensity map ``(x - background - offset) * scale + out_low``.

    Attributes
    ----------
    kind : {"percentile", "minmax", "meanstd"}
    low_value, high_value : float, or tuple of float (one per image channel)
        Input intensities (after background removal) mapped to ``out_low`` and ``out_high``. Tuples
        (channels trained jointly) apply along axis -3 of a (…, C, Y, X) array.
    out_low, out_high : float
    background : ndarray of shape (Y, X) or None
        Median background image subtracted before scaling.
    """

    kind: str
    low_value: float | tuple
    high_value: float | tuple
    out_low: float = 0.0
    out_high: float = 1.0
    background: np.ndarray | None = field(default=None, repr=False)

    @property
    def channels(self) -> int:
        """Image channels with statistics of their own (1: one pair for all)."""
        return len(self.low_value) if isinstance(self.low_value, tuple) else 1

    def _values(self, value) -> np.floating | np.ndarray:
        if isinstance(value, tuple):
            return np.asarray(value, dtype=np.float32)[:, None, None]
        return np.float32(value)

    @property
    def scale(self) -> float:
        low, high = self.low_value, self.high_value
        if isinstance(low, tuple) or isinstance(high, tuple):
            raise TypeError("a per-channel normalizer has one scale per channel: use channel(c).scale")
        return (self.out_high - self.out_low) / (high - low)

    def channel(self, c: int) -> Normalizer:
        """The statistics of image channel ``c`` alone."""
        low, high = self.low_value, self.high_value
        if self.channels == 1 or not isinstance(low, tuple) or not isinstance(high, tuple):
            return self
        return Normalizer(self.kind, low[c], high[c], self.out_low, self.out_high, self.background)

    def _check_channels(self, stack: np.ndarray) -> None:
        if self.channels > 1 and (stack.ndim < 3 or stack.shape[-3] != self.channels):
            raise Noise2StackError(
                f"the model normalises {self.channels} channels jointly, but the data has shape {stack.shape} "
                f"(channels along the third axis from the end expected)"
            )

    def _scales(self):
        return (self.out_high - self.out_low) / (self._values(self.high_value) - self._values(self.low_value))

    def _check_background(self, stack: np.ndarray) -> None:
        if self.background is not None and stack.shape[-2:] != self.background.shape:
            raise Noise2StackError(
                f"the model subtracts a {self.background.shape[0]}x{self.background.shape[1]} background "
                f"image, but the planes are {stack.shape[-2]}x{stack.shape[-1]}"
            )

    def normalize(self, stack: np.ndarray, copy: bool = True) -> np.ndarray:
        """Map a ``ZYX`` (or ``YX``; ``ZCYX`` with per-channel statistics) stack to network units, float32.

        ``copy=False`` works in place where ``stack`` is already float32 (a caller that owns it and
        needs no second copy of its size, as chunked prediction does with each slab it reads)."""
        self._check_background(stack)
        self._check_channels(stack)
        out = stack.astype(np.float32, copy=copy)
        if self.background is not None:
            out -= self.background
        out -= self._values(self.low_value)
        out *= np.float32(self._scales())
        out += np.float32(self.out_low)
        return out

    def denormalize(self, stack: np.ndarray, copy: bool = True) -> np.ndarray:
        """Map network output back to input units, float32 (in place for a float32 ``stack`` with ``copy=False``)."""
        self._check_background(stack)
        self._check_channels(stack)
        out = stack.astype(np.float32, copy=copy)
        out -= np.float32(self.out_low)
        out /= np.float32(self._scales())
        out += self._values(self.low_value)
        if self.background is not None:
            out += self.background
        return out

    def to_dict(self) -> dict:
        """JSON-able statistics (the background image is stored separately, as a tensor)."""
        low, high = self.low_value, self.high_value
        per_channel = self.channels > 1
        return {
            "kind": self.kind,
            "low_value": list(low) if per_channel and isinstance(low, tuple) else low,
            "high_value": list(high) if per_channel and isinstance(high, tuple) else high,
            "out_low": self.out_low,
            "out_high": self.out_high,
            "has_background": self.background is not None,
        }

    @classmethod
    def from_dict(cls, data: dict, background: np.ndarray | None = None) -> Normalizer:
        def value(v):
            return tuple(float(x) for x in v) if isinstance(v, list) else float(v)

        low, high = value(data["low_value"]), value(data["high_value"])
        if isinstance(low, tuple) != isinstance(high, tuple) or (isinstance(low, tuple) and len(low) != len(high)):
            raise ValueError("low_value and high_value must both be numbers or lists of one length")
        return cls(
            kind=str(data["kind"]),
            low_value=low,
            high_value=high,
            out_low=float(data["out_low"]),
            out_high=float(data["out_high"]),
            background=background,
        )


def fit_normalizer(
    stacks: Sequence[np.ndarray],
    kind: Literal["percentile", "minmax", "meanstd"] = "percentile",
    percentiles: tuple[float, float] = (3.0, 99.8),
    background: bool = False,
    out_range: tuple[float, float] | None = None,
) -> Normalizer:
    """Compute normalisation statistics over all training stacks together.

    Parameters
    ----------
    stacks : sequence of ndarray, each (Z, Y, X)
    kind : {"percentile", "minmax", "meanstd"}
    percentiles : (float, float)
        Low and high percentiles for ``kind="percentile"`` (paper: 3, 99.8).
    background : bool
        Subtract the per-pixel median over all planes first (needs equal plane sizes).
    out_range : (float, float), optional
        Target values; default (0, 1) for percentile, (−0.5, 0.5) for minmax, (−1, 1) at mean ∓ std for meanstd.
    """
    bg = None
    if background:
        shapes = {s.shape[1:] for s in stacks}
        if len(shapes) != 1:
            raise Noise2StackError("median background subtraction needs all stacks to have the same plane size")
        bg = np.median(np.concatenate([s.astype(np.float32) for s in stacks]), axis=0).astype(np.float32)
    values = np.concatenate([(s.astype(np.float32) - (bg if bg is not None else 0)).ravel() for s in stacks])
    if kind == "percentile":
        low, high = np.percentile(values, percentiles)
        out_low, out_high = out_range or (0.0, 1.0)
    elif kind == "minmax":
        low, high = float(values.min()), float(values.max())
        out_low, out_high = out_range or (-0.5, 0.5)
    elif kind == "meanstd":
        mean, std = float(values.mean(dtype=np.float64)), float(values.std(dtype=np.float64))
        low, high = mean - std, mean + std
        out_low, out_high = out_range or (-1.0, 1.0)
    else:
        raise Noise2StackError(f"unknown normalisation {kind!r}; use percentile, minmax or meanstd")
    if not high > low:
        raise Noise2StackError(
            f"the training data is constant between the normalisation points ({low:g}); nothing to learn"
        )
    return Normalizer(kind, float(low), float(high), float(out_low), float(out_high), bg)


def fit_channel_normalizer(
    stacks: Sequence[np.ndarray],
    kind: Literal["percentile", "minmax", "meanstd"] = "percentile",
    percentiles: tuple[float, float] = (3.0, 99.8),
) -> Normalizer:
    """Statistics per image channel of (Z, C, Y, X) stacks (channels trained jointly): one
    :func:`fit_normalizer` per channel, so that a dim channel is not crushed by a bright one."""
    channels = {s.shape[1] for s in stacks}
    if len(channels) != 1:
        raise Noise2StackError(f"the stacks have different channel counts {sorted(channels)}; joint training needs one")
    fits = [fit_normalizer([s[:, c] for s in stacks], kind, percentiles) for c in range(channels.pop())]
    first = fits[0]
    return Normalizer(
        kind, tuple(f.low_value for f in fits), tuple(f.high_value for f in fits), first.out_low, first.out_high
    )
