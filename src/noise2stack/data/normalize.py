"""Intensity normalisation whose statistics travel with the model.

``percentile`` (paper 000 §3.2, after CARE): optionally subtract a per-pixel median background image
(the camera pattern, the median over all planes), then map the ``low``/``high`` percentiles of the
training data to 0 and 1. ``minmax`` (the paper's MRI runs): map the data's minimum and maximum to
``out_low`` and ``out_high`` (default −0.5, 0.5). Predictions are mapped back with :meth:`Normalizer.denormalize`,
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
    kind : {"percentile", "minmax"}
    low_value, high_value : float
        Input intensities (after background removal) mapped to ``out_low`` and ``out_high``.
    out_low, out_high : float
    background : ndarray of shape (Y, X) or None
        Median background image subtracted before scaling.
    """

    kind: str
    low_value: float
    high_value: float
    out_low: float = 0.0
    out_high: float = 1.0
    background: np.ndarray | None = field(default=None, repr=False)

    @property
    def scale(self) -> float:
        return (self.out_high - self.out_low) / (self.high_value - self.low_value)

    def _check_background(self, stack: np.ndarray) -> None:
        if self.background is not None and stack.shape[-2:] != self.background.shape:
            raise Noise2StackError(
                f"the model subtracts a {self.background.shape[0]}x{self.background.shape[1]} background "
                f"image, but the planes are {stack.shape[-2]}x{stack.shape[-1]}"
            )

    def normalize(self, stack: np.ndarray) -> np.ndarray:
        """Map a ``ZYX`` (or ``YX``) stack to network units, float32."""
        self._check_background(stack)
        out = stack.astype(np.float32, copy=True)
        if self.background is not None:
            out -= self.background
        out -= np.float32(self.low_value)
        out *= np.float32(self.scale)
        out += np.float32(self.out_low)
        return out

    def denormalize(self, stack: np.ndarray) -> np.ndarray:
        """Map network output back to input units, float32."""
        self._check_background(stack)
        out = stack.astype(np.float32, copy=True)
        out -= np.float32(self.out_low)
        out /= np.float32(self.scale)
        out += np.float32(self.low_value)
        if self.background is not None:
            out += self.background
        return out

    def to_dict(self) -> dict:
        """JSON-able statistics (the background image is stored separately, as a tensor)."""
        return {
            "kind": self.kind,
            "low_value": self.low_value,
            "high_value": self.high_value,
            "out_low": self.out_low,
            "out_high": self.out_high,
            "has_background": self.background is not None,
        }

    @classmethod
    def from_dict(cls, data: dict, background: np.ndarray | None = None) -> "Normalizer":
        return cls(
            kind=str(data["kind"]),
            low_value=float(data["low_value"]),
            high_value=float(data["high_value"]),
            out_low=float(data["out_low"]),
            out_high=float(data["out_high"]),
            background=background,
        )


def fit_normalizer(
    stacks: Sequence[np.ndarray],
    kind: Literal["percentile", "minmax"] = "percentile",
    percentiles: tuple[float, float] = (3.0, 99.8),
    background: bool = False,
    out_range: tuple[float, float] | None = None,
) -> Normalizer:
    """Compute normalisation statistics over all training stacks together.

    Parameters
    ----------
    stacks : sequence of ndarray, each (Z, Y, X)
    kind : {"percentile", "minmax"}
    percentiles : (float, float)
        Low and high percentiles for ``kind="percentile"`` (paper: 3, 99.8).
    background : bool
        Subtract the per-pixel median over all planes first (needs equal plane sizes).
    out_range : (float, float), optional
        Target values; default (0, 1) for percentile and (−0.5, 0.5) for minmax.
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
    else:
        raise Noise2StackError(f"unknown normalisation {kind!r}; use percentile or minmax")
    if not high > low:
        raise Noise2StackError(
            f"the training data is constant between the normalisation points ({low:g}); nothing to learn"
        )
    return Normalizer(kind, float(low), float(high), float(out_low), float(out_high), bg)
