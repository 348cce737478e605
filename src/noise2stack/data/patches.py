"""Random training patches from one or more stacks, with augmentation.

A :class:`PatchSource` draws, for one training example, a (stack, plane) pair uniformly over all
planes of all stacks (one network for all planes, as in the paper), a random ``patch × patch``
window, the input channels from the neighbour rule of :mod:`noise2stack.data.sampler` and the target
plane, and applies the same augmentation to both. All randomness comes from the ``rng`` passed in,
so a training run is a pure function of its seed.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from noise2stack.data.sampler import plane_indices
from noise2stack.errors import Noise2StackError

Augmentation = Literal["dihedral", "translate", "none"]


def augment_dihedral(arrays: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Apply one random element of the 8 rotations/flips to every (C, Y, X) array alike."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    out = []
    for a in arrays:
        a = np.rot90(a, k, axes=(-2, -1))
        if flip:
            a = a[..., ::-1]
        out.append(a)
    return out


def augment_translate(arrays: Sequence[np.ndarray], rng: np.random.Generator, max_shift: int = 64) -> list[np.ndarray]:
    """Translate every (C, Y, X) array alike by a random 0..``max_shift`` pixels in Y and X (circular)."""
    dy, dx = (int(v) for v in rng.integers(0, max_shift + 1, size=2))
    return [np.roll(a, (dy, dx), axis=(-2, -1)) for a in arrays]


class PatchSource:
    """Draw (input, target) training patches.

    Parameters
    ----------
    inputs : sequence of ndarray, each (Z, Y, X) float32, or (Z, C, Y, X) for C image channels trained jointly
        Normalised noisy stacks the input channels come from.
    targets : sequence of ndarray, each (Z, Y, X) float32
        Normalised stacks the target plane comes from: the same arrays as ``inputs`` (self mode), an
        independent noisy copy (copy mode) or a clean stack (supervised).
    planes : sequence of (int, int)
        The (stack index, plane index) pairs that may be targets.
    neighbors : int
        Even number of neighbour planes fed to the network.
    include_center : bool
        Whether plane ``i`` itself is an input channel (copy mode).
    patch : int
        Side of the square patch in pixels.
    augmentation : {"dihedral", "translate", "none"}
    """

    def __init__(
        self,
        inputs: Sequence[np.ndarray],
        targets: Sequence[np.ndarray],
        planes: Sequence[tuple[int, int]],
        neighbors: int,
        include_center: bool,
        patch: int,
        augmentation: Augmentation = "dihedral",
    ) -> None:
        if not planes:
            raise Noise2StackError("no planes to draw training patches from")
        for s in inputs:
            if patch > min(s.shape[-2:]):
                raise Noise2StackError(
                    f"`patch` {patch} is larger than the planes ({s.shape[-2]}x{s.shape[-1]}); choose `patch` <= {min(s.shape[-2:])}"
                )
        self.inputs = list(inputs)
        self.targets = list(targets)
        self.planes = [(int(s), int(i)) for s, i in planes]
        self.neighbors = neighbors
        self.include_center = include_center
        self.patch = patch
        self.augmentation = augmentation

    def sample(self, rng: np.random.Generator, choices: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One example: input (C, P, P) and target (1, P, P), float32, C-contiguous.

        ``choices``: indices into ``planes`` to draw the target plane from (all when None), e.g. one
        block of stored chunks when streaming (:class:`noise2stack.data.streaming.LocalPlanes`).

        From (Z, K, Y, X) stacks of K joint image channels: input (C * K, P, P) (neighbour-major,
        as :func:`~noise2stack.data.sampler.plane_inputs`) and target (K, P, P).
        """
        pick = int(rng.integers(len(self.planes) if choices is None else len(choices)))
        s, i = self.planes[pick if choices is None else choices[pick]]
        stack = self.inputs[s]
        height, width = stack.shape[-2:]
        y0 = int(rng.integers(height - self.patch + 1))
        x0 = int(rng.integers(width - self.patch + 1))
        # one (planes, [channels,] rows, cols) key: streamed stacks (data.streaming) take no other
        window = (slice(None),) * (len(stack.shape) - 3) + (slice(y0, y0 + self.patch), slice(x0, x0 + self.patch))
        channels = plane_indices(i, stack.shape[0], self.neighbors, self.include_center)
        inp = stack[(channels,) + window].reshape(-1, self.patch, self.patch)
        tgt = self.targets[s][(slice(i, i + 1),) + window].reshape(-1, self.patch, self.patch)
        if self.augmentation == "dihedral":
            inp, tgt = augment_dihedral([inp, tgt], rng)
        elif self.augmentation == "translate":
            inp, tgt = augment_translate([inp, tgt], rng)
        return np.ascontiguousarray(inp, dtype=np.float32), np.ascontiguousarray(tgt, dtype=np.float32)
