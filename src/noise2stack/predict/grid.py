"""Where the windows of a plane lie: the splitter of the tiler, shared by every way of stitching.

A plane is reflect-padded to a multiple of ``align = 2**depth`` (as the network's own whole-plane
pass does, so the max-pooling grid is the same), then covered along each axis by windows of one size.
Window ``i`` contributes the plane range ``keeps[i]``; how contributions meet (a weighted mean, a cut)
is the stitch's business (:mod:`noise2stack.predict.blend`, :mod:`noise2stack.predict.cut`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from noise2stack.errors import Noise2StackError


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return -(-value // multiple) * multiple


def tile_starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Origins of tiles of size ``tile`` covering ``[0, length)``, neighbours overlapping by >= ``overlap``.

    ``length`` and ``tile`` must be multiples of ``align``; every origin is one too (px).
    """
    if tile >= length:
        return [0]
    stride = (tile - overlap) // align * align
    if stride <= 0:
        raise Noise2StackError(f"`overlap` {overlap} leaves no stride for `tile` {tile}; lower the overlap")
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def window_start(core_start: int, halo: int, window: int, length: int) -> int:
    """Origin of the window around a core: ``halo`` before it, shifted to stay inside ``[0, length)``."""
    return min(max(core_start - halo, 0), length - window)


def pad_plane(inputs: np.ndarray, height: int, width: int, mode: str = "reflect") -> np.ndarray:
    """(K, Y, X) inputs padded at the bottom and right to (K, height, width).

    ``mode`` "reflect": reflection as the U-Nets pad themselves, edge replication where a plane is too
    small to reflect; "constant": zeros, as a blind-spot net pads itself (a network's ``pad_mode``).
    """
    pad_y, pad_x = height - inputs.shape[-2], width - inputs.shape[-1]
    if not (pad_y or pad_x):
        return inputs
    if mode == "constant":
        return np.pad(inputs, ((0, 0), (0, pad_y), (0, pad_x)))
    if pad_y < inputs.shape[-2] and pad_x < inputs.shape[-1]:
        return np.pad(inputs, ((0, 0), (0, pad_y), (0, pad_x)), mode="reflect")
    return np.pad(inputs, ((0, 0), (0, pad_y), (0, pad_x)), mode="edge")


@dataclass(frozen=True)
class AxisPlan:
    """The windows along one axis of the padded plane (all in input pixels).

    Attributes
    ----------
    length : int
        The padded plane's length along the axis.
    window : int
        Every window's length.
    starts : tuple of int
        Window origins.
    keeps : tuple of (int, int)
        The plane range ``[from, to)`` each window contributes, inside the window.
    """

    length: int
    window: int
    starts: tuple[int, ...]
    keeps: tuple[tuple[int, int], ...]


class Merger(Protocol):
    """Joins the predictions of the windows of one plane into the plane."""

    def add(self, iy: int, ix: int, prediction: np.ndarray) -> None:
        """Take window (``iy``, ``ix``)'s prediction, (C, window_y * s, window_x * s)."""

    def finish(self) -> np.ndarray:
        """The padded plane (C, length_y * s, length_x * s) from all its windows; starts the next plane."""


@dataclass(frozen=True)
class Stitch:
    """One way of joining tiles: where the windows lie, and how their predictions meet.

    Attributes
    ----------
    plan : callable
        ``plan(length, tile, overlap, halo, align) -> AxisPlan`` for one axis; ``halo`` is the
        network's context rounded up to the pooling grid (px).
    merger : callable
        ``merger(plan_y, plan_x, scale, overlap) -> Merger`` for planes of output scale ``scale``.
    default_overlap : callable
        ``default_overlap(context, align) -> int``: the overlap (px) when none is given.
    """

    plan: Callable[[int, int, int, int, int], AxisPlan]
    merger: Callable[[AxisPlan, AxisPlan, int, int], Merger]
    default_overlap: Callable[[int, int], int]
