"""Which planes of a stack go into the network for plane ``i`` (Noise2Stack, paper 000 §2.1).

Channel order (fixed): planes sorted by offset from ``i``, nearest below first in the lower half::

    neighbors = N, k = N // 2
    include_center=False (self mode):  [i-k, ..., i-1, i+1, ..., i+k]          N channels
    include_center=True  (copy mode):  [i-k, ..., i-1, i, i+1, ..., i+k]       N + 1 channels

so the centre plane (copy mode) is channel ``k``, and the two innermost neighbours are channels
``k-1`` and ``k`` in self mode.

Marginal planes (the paper: "we replace their absent neighbors with copies of their nearest neighbor
plane, e.g. for the first plane we use two copies of the second plane"). A neighbour ``j = i + o`` that
lies outside the stack becomes the existing plane nearest to ``j`` that is not ``i`` itself: ``j`` is
clamped into ``[0, Z-1]`` and, if that lands on ``i``, moved one plane further into the stack. A
neighbour channel therefore never shows the target plane, in either mode. For a 7-plane stack::

    N=2, i=0: [1, 1]            i=6: [5, 5]
    N=4, i=0: [1, 1, 1, 2]      i=1: [0, 0, 2, 3]      i=5: [3, 4, 6, 6]      i=6: [4, 5, 5, 5]
    N=6, i=0: [1, 1, 1, 1, 2, 3]   i=1: [0, 0, 0, 2, 3, 4]   i=2: [0, 0, 1, 3, 4, 5]
"""

from __future__ import annotations

import numpy as np

from noise2stack.errors import Noise2StackError


def check_neighbors(neighbors: int, include_center: bool) -> None:
    """Raise unless ``neighbors`` is a valid neighbour count for the mode."""
    if neighbors < 0 or neighbors % 2:
        raise Noise2StackError(f"`neighbors` must be even and >= 0 (N/2 planes on each side), got {neighbors}")
    if neighbors == 0 and not include_center:
        raise Noise2StackError("`mode` self needs `neighbors` >= 2: with none the network sees no input")


def min_planes(neighbors: int, include_center: bool) -> int:
    """Fewest planes a stack needs so that at least one plane has its full neighbourhood."""
    return max(neighbors + 1, 1 if include_center else 2)


def input_offsets(neighbors: int, include_center: bool) -> list[int]:
    """Plane offsets from ``i`` in channel order, e.g. ``[-2, -1, 1, 2]`` for N=4, self mode."""
    check_neighbors(neighbors, include_center)
    k = neighbors // 2
    centre = [0] if include_center else []
    return list(range(-k, 0)) + centre + list(range(1, k + 1))


def neighbor_index(i: int, offset: int, n_planes: int) -> int:
    """Index of the plane that stands in for plane ``i + offset`` in a stack of ``n_planes``.

    ``offset == 0`` gives ``i``. Absent neighbours follow the marginal-plane rule (module docstring).
    """
    if offset == 0:
        return i
    if n_planes < 2:
        raise Noise2StackError("a neighbour needs a stack of at least 2 planes")
    j = min(max(i + offset, 0), n_planes - 1)
    if j == i:
        j = i + 1 if offset < 0 else i - 1
    return j


def plane_indices(i: int, n_planes: int, neighbors: int, include_center: bool) -> list[int]:
    """Stack indices of the input channels for target plane ``i``, in channel order."""
    if not 0 <= i < n_planes:
        raise IndexError(f"plane {i} outside a stack of {n_planes}")
    return [neighbor_index(i, o, n_planes) for o in input_offsets(neighbors, include_center)]


def plane_inputs(stack: np.ndarray, i: int, neighbors: int, include_center: bool) -> np.ndarray:
    """The network input for plane ``i``: array of shape (C, Y, X) from a ``ZYX`` stack.

    A ``ZCYX`` stack (image channels trained jointly) gives (N' * C, Y, X), neighbour-major:
    input channel ``n * C + c`` is neighbour slot ``n`` of image channel ``c``.
    """
    planes = stack[plane_indices(i, stack.shape[0], neighbors, include_center)]
    return planes.reshape(-1, *stack.shape[-2:])
