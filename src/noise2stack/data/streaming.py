"""Training patches read straight from a store (Zarr, OME-Zarr, lazily read TIFF, memory-mapped .npy).

:class:`StackView` presents one stack of a volume of any axes (one index on each loop axis, the
stack axis, Y, X) as a ``ZYX`` array-like that reads only the planes and windows asked for.
:class:`NormalizedStack` normalises what it reads on the fly. Both support exactly the indexing
:class:`noise2stack.data.patches.PatchSource` uses (``stack[(plane list, y slice, x slice)]``), so
the patch sampler, its ``(seed, epoch, step)`` determinism and the data-loader workers are the
in-memory ones: a streamed patch equals the patch drawn from the loaded stack (tested).

Memory: each process keeps one LRU cache of whole normalised planes (:class:`PlaneCache`), shared
by all stack views it reads, at most ``--stream-cache-mb`` (default 256 MiB,
:data:`DEFAULT_CACHE_BYTES`); a plane larger than a quarter of the cache is never cached, only its
windows are read (the store decodes just the chunks they touch). With ``--workers N`` the bound is
per process: (N + 1) x 256 MiB at most, whatever the volume's size.

Feeding the model when the volume is larger than the cache: patches drawn uniformly over all planes
would miss the cache on almost every draw, and each miss decodes a whole stored chunk (measured: 11
patches/s against 14,640 from memory, benchmarks/scale/results/scale.md). :class:`LocalPlanes` instead
lets consecutive batches draw from one block of whole stored chunks that fits in the cache, a new
random block every few dozen steps, so a chunk is decoded once and serves thousands of patches. Over
a run every plane remains equally likely; only the order changes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal, Sequence

import numpy as np

from noise2stack.data.normalize import Normalizer, fit_normalizer
from noise2stack.errors import Noise2StackError

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

    def _read(self, planes, rows: slice, cols: slice) -> np.ndarray:
        """The stored window at ``planes`` (an int or a slice), ``rows``, ``cols``, with its kept axes
        in the order (stack axis, Y, X)."""
        index, kept = [], []
        for a in self.axes:
            if a in (self.stack_axis, "Y", "X"):
                index.append({self.stack_axis: planes, "Y": rows, "X": cols}[a])
                if not (a == self.stack_axis and isinstance(planes, int)):
                    kept.append(a)
            else:
                index.append(int(self.loop_index[a]))
        block = np.asarray(self._opened()[tuple(index)])
        return np.transpose(block, [kept.index(a) for a in (self.stack_axis, "Y", "X") if a in kept])

    def read_planes(self, start: int, stop: int) -> np.ndarray:
        """Whole planes ``[start, stop)`` as (n, Y, X), in one read (one pass over their chunks)."""
        return self._read(slice(int(start), int(stop)), slice(None), slice(None))

    def read(self, plane: int, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Plane ``plane`` (YX window), as stored."""
        return self._read(int(plane), rows, cols)

    def __getitem__(self, key) -> np.ndarray:
        planes, rows, cols = key
        planes = range(self.shape[0])[planes] if isinstance(planes, slice) else planes
        return np.stack([self.read(p, rows, cols) for p in planes])


class PlaneCache:
    """An LRU cache of normalised whole planes, at most ``max_bytes``, shared by the stack views of
    one process (a pickled copy starts empty: each data-loader worker has its own)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._planes: OrderedDict = OrderedDict()
        self._bytes = 0

    def __getstate__(self):
        return {"max_bytes": self.max_bytes, "_planes": OrderedDict(), "_bytes": 0}

    def get(self, key) -> np.ndarray | None:
        plane = self._planes.get(key)
        if plane is not None:
            self._planes.move_to_end(key)
        return plane

    def put(self, key, plane: np.ndarray) -> None:
        old = self._planes.pop(key, None)
        self._bytes += plane.nbytes - (0 if old is None else old.nbytes)
        self._planes[key] = plane
        while self._bytes > self.max_bytes and len(self._planes) > 1:
            _, dropped = self._planes.popitem(last=False)
            self._bytes -= dropped.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes


class NormalizedStack:
    """A :class:`StackView` normalised as it is read, through a bounded :class:`PlaneCache` of whole planes.

    Parameters
    ----------
    view : StackView
    normalizer : Normalizer
    cache : PlaneCache, optional
        Shared with the other stacks of the run, so the bound holds for all of them together; a
        cache of its own (256 MiB) when not given.
    """

    def __init__(self, view: StackView, normalizer: Normalizer, cache: PlaneCache | None = None) -> None:
        if normalizer.background is not None:
            raise Noise2StackError(
                "`background` needs the whole stack in memory; it is not available when streaming from a store"
            )
        self.view, self.normalizer = view, normalizer
        self.cache = PlaneCache() if cache is None else cache
        self.shape, self.dtype = view.shape, np.dtype(np.float32)
        self.plane_bytes = 4 * view.shape[1] * view.shape[2]

    def _plane(self, plane: int, rows: slice, cols: slice) -> np.ndarray:
        if 4 * self.plane_bytes > self.cache.max_bytes:
            return self.normalizer.normalize(self.view.read(plane, rows, cols))
        key = (id(self), plane)  # id() is stable: a worker unpickles the stacks once and keeps them
        data = self.cache.get(key)
        if data is None:
            # A stored chunk spans several planes: reading one plane costs the whole chunk, so keep
            # all of its planes (as many as the cache holds). Measured: a store chunked 16 planes
            # deep gave 7 patches/s plane by plane while the cache filled (benchmarks/scale.py).
            span = self.view.planes_per_chunk()
            fits = max(1, self.cache.max_bytes // self.plane_bytes // 2)
            start = plane // span * span
            start, stop = (start, min(start + span, self.shape[0])) if span <= fits else (plane, plane + 1)
            for offset, normalized in enumerate(self.normalizer.normalize(self.view.read_planes(start, stop))):
                self.cache.put((id(self), start + offset), normalized)
            data = self.cache.get(key)
            if data is None:  # pragma: no cover - the cache always keeps the newest plane
                data = self.normalizer.normalize(self.view.read(plane))
        return data[rows, cols]

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


def fit_streaming_normalizer(
    views: Sequence[StackView],
    kind: Literal["percentile", "minmax", "meanstd"],
    percentiles: tuple[float, float],
    per_stack: int = 16,
) -> Normalizer:
    """Normalisation statistics from a sample of planes (:func:`sample_planes`), not the whole volume."""
    return fit_normalizer(sample_planes(views, per_stack), kind, percentiles, background=False)


class LocalPlanes:
    """Which training planes each batch may draw from: one block of whole stored chunks at a time.

    Parameters
    ----------
    planes : sequence of (int, int)
        The training (stack, plane) pairs, as :class:`~noise2stack.data.patches.PatchSource` holds them.
    stacks : sequence of NormalizedStack
        The streamed stacks, for their depth, chunking and plane size.
    neighbors : int
        Neighbour planes per input: the block leaves room in the cache for the chunks they reach into.
    patch, batch : int
        Patch side and batch size, to decide how long a block serves.
    seed : int
    coverage : float
        A block serves until the patches drawn from it add up to this share of its pixels (then a
        new block is drawn): 0.25 decodes each chunk once per ~4 patches' worth of its area.

    Notes
    -----
    Block ``b`` of epoch ``e`` serves steps ``b * steps_per_block ... (b + 1) * steps_per_block - 1``
    and is drawn with ``numpy.random.default_rng([seed, 2**31 - 2, e, b])``: a pure function of the
    step, like the batches themselves, so resuming and data-loader workers see the same blocks. The
    block's first plane is drawn uniformly over the training planes and rounded down to its chunk,
    so every plane is equally likely over a run.
    """

    def __init__(
        self, planes, stacks, neighbors: int, patch: int, batch: int, seed: int, coverage: float = 0.25
    ) -> None:
        self.seed = int(seed)
        cache = stacks[0].cache
        plane_bytes = max(s.plane_bytes for s in stacks)
        cache_planes = cache.max_bytes // plane_bytes
        self.span = max(s.view.planes_per_chunk() for s in stacks)
        halo = (neighbors // 2 + self.span - 1) // self.span  # chunks on each side that neighbours reach into
        chunks = max(1, cache_planes // self.span - 2 * halo)
        self.depth = chunks * self.span  # planes per block
        height, width = stacks[0].shape[1:]
        self.steps_per_block = max(1, int(round(coverage * self.depth * height * width / (patch * patch * batch))))
        self.planes = [(int(s), int(i)) for s, i in planes]
        self._by_start: dict = {}
        for index, (s, i) in enumerate(self.planes):
            self._by_start.setdefault((s, i // self.span * self.span), []).append(index)

    @classmethod
    def needed(cls, planes, stacks) -> bool:
        """Whether the training planes are more than the shared cache holds (else plain uniform draws)."""
        return bool(stacks) and len(planes) * max(s.plane_bytes for s in stacks) > stacks[0].cache.max_bytes

    def __call__(self, epoch: int, step: int) -> list[int]:
        """Indices into ``planes`` that the batch at ``(epoch, step)`` draws from."""
        rng = np.random.default_rng([self.seed, 2**31 - 2, int(epoch), int(step) // self.steps_per_block])
        s, first = self.planes[int(rng.integers(len(self.planes)))]
        start = first // self.span * self.span
        block: list[int] = []
        for chunk_start in range(start, start + self.depth, self.span):
            block.extend(self._by_start.get((s, chunk_start), ()))
        return block
