"""Training patches read straight from a store (Zarr, OME-Zarr, lazily read TIFF, memory-mapped .npy).

:class:`StackView` presents one stack of a volume of any axes (one index on each loop axis, the
stack axis, Y, X) as a ``ZYX`` array-like that reads only the planes and windows asked for.
:class:`NormalizedStack` normalises what it reads on the fly. Both support exactly the indexing
:class:`noise2stack.data.patches.PatchSource` uses (``stack[(plane list, y slice, x slice)]``), so
the patch sampler, its ``(seed, epoch, step)`` determinism and the data-loader workers are the
in-memory ones: a streamed patch equals the patch drawn from the loaded stack (tested).

Memory: each process keeps an LRU cache of whole normalised planes, at most ``cache_bytes``
(default 256 MiB, :data:`DEFAULT_CACHE_BYTES`) per stack view; a plane larger than a quarter of
the cache is never cached, only its windows are read (the store decodes just the chunks they touch).
With ``--workers N`` the bound is per worker: N x 256 MiB per training stack at most.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from noise2stack.data.normalize import Normalizer, fit_normalizer

DEFAULT_CACHE_BYTES = 256 * 2**20


class StackView:
    """A ``ZYX`` view of one stack of a volume.

    Parameters
    ----------
    array : array-like or callable
        The volume (NumPy-style slicing), or a zero-argument callable that opens it (called lazily,
        once per process, so the view pickles to data-loader workers without the data).
    axes : str
        Letters of the volume's axes in file order.
    stack_axis : str
        Z or T.
    loop_index : dict
        Index for every other non-plane axis, e.g. ``{"C": 1}``.
    shape : tuple
        The volume's shape.
    """

    def __init__(self, array, axes: str, stack_axis: str, loop_index: dict, shape: tuple) -> None:
        self._array, self.axes, self.stack_axis, self.loop_index = array, axes, stack_axis, dict(loop_index)
        self.shape = tuple(shape[axes.index(a)] for a in (stack_axis, "Y", "X"))
        self.dtype = np.dtype(np.float32)

    def _opened(self):
        if callable(self._array):
            self._array = self._array()
        return self._array

    def __getstate__(self):
        state = dict(self.__dict__)
        return state

    def planes_per_chunk(self) -> int:
        """Planes that one stored chunk spans along the stack axis (1 when the store has no chunks)."""
        chunks = getattr(self._opened(), "chunks", None)
        return max(1, int(chunks[self.axes.index(self.stack_axis)])) if chunks else 1

    def read_planes(self, start: int, stop: int) -> np.ndarray:
        """Whole planes ``[start, stop)`` as (n, Y, X), in one read (one pass over their chunks)."""
        index, kept = [], []
        for a in self.axes:
            if a == self.stack_axis:
                index.append(slice(int(start), int(stop)))
                kept.append(a)
            elif a in "YX":
                index.append(slice(None))
                kept.append(a)
            else:
                index.append(int(self.loop_index[a]))
        block = np.asarray(self._opened()[tuple(index)])
        return np.transpose(block, [kept.index(a) for a in (self.stack_axis, "Y", "X")])

    def read(self, plane: int, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Plane ``plane`` (YX window), as stored."""
        index, kept = [], []
        for a in self.axes:
            if a == self.stack_axis:
                index.append(int(plane))
            elif a == "Y":
                index.append(rows)
                kept.append(a)
            elif a == "X":
                index.append(cols)
                kept.append(a)
            else:
                index.append(int(self.loop_index[a]))
        window = np.asarray(self._opened()[tuple(index)])
        return window if kept == ["Y", "X"] else window.T

    def __getitem__(self, key) -> np.ndarray:
        planes, rows, cols = key
        planes = range(self.shape[0])[planes] if isinstance(planes, slice) else planes
        return np.stack([self.read(p, rows, cols) for p in planes])


class NormalizedStack:
    """A :class:`StackView` normalised as it is read, with a bounded LRU cache of whole planes."""

    def __init__(self, view: StackView, normalizer: Normalizer, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if normalizer.background is not None:
            from noise2stack.errors import Noise2StackError

            raise Noise2StackError("--background needs the whole stack in memory; it is not available when streaming from a store")
        self.view, self.normalizer, self.cache_bytes = view, normalizer, cache_bytes
        self.shape, self.dtype = view.shape, np.dtype(np.float32)
        self._cache: OrderedDict = OrderedDict()
        self._plane_bytes = 4 * view.shape[1] * view.shape[2]

    def __getstate__(self):
        return {**self.__dict__, "_cache": OrderedDict()}  # workers start with an empty cache

    def _plane(self, plane: int, rows: slice, cols: slice) -> np.ndarray:
        if 4 * self._plane_bytes > self.cache_bytes:
            return self.normalizer.normalize(self.view.read(plane, rows, cols))
        if plane in self._cache:
            self._cache.move_to_end(plane)
        else:
            # A stored chunk spans several planes: reading one plane costs the whole chunk, so keep
            # all of its planes (as many as the cache holds). Measured: a store chunked 16 planes
            # deep gave 7 patches/s plane by plane while the cache filled (benchmarks/scale.py).
            span = self.view.planes_per_chunk()
            fits = max(1, self.cache_bytes // self._plane_bytes // 2)
            start = plane // span * span
            start, stop = (start, min(start + span, self.shape[0])) if span <= fits else (plane, plane + 1)
            for offset, data in enumerate(self.normalizer.normalize(self.view.read_planes(start, stop))):
                self._cache[start + offset] = data
                self._cache.move_to_end(start + offset)
            self._cache.move_to_end(plane)
            while len(self._cache) * self._plane_bytes > self.cache_bytes:
                self._cache.popitem(last=False)
        return self._cache[plane][rows, cols]

    def __getitem__(self, key) -> np.ndarray:
        planes, rows, cols = key
        planes = range(self.shape[0])[planes] if isinstance(planes, slice) else planes
        return np.stack([self._plane(int(p), rows, cols) for p in planes])


def sample_planes(views: Sequence[StackView], per_stack: int = 16) -> list[np.ndarray]:
    """Up to ``per_stack`` evenly spaced whole planes of each view, as (Z', Y, X) arrays."""
    out = []
    for view in views:
        picks = np.unique(np.linspace(0, view.shape[0] - 1, min(per_stack, view.shape[0])).round().astype(int))
        out.append(view[(list(picks), slice(None), slice(None))])
    return out


def fit_streaming_normalizer(views: Sequence[StackView], kind: str, percentiles, per_stack: int = 16) -> Normalizer:
    """Normalisation statistics from a sample of planes (:func:`sample_planes`), not the whole volume."""
    return fit_normalizer(sample_planes(views, per_stack), kind, percentiles, background=False)
