"""Training batches as a pure function of (seed, epoch, step).

Every batch is drawn with ``numpy.random.default_rng([seed, epoch, step])``, so a run is
reproducible bit for bit on CPU, a resumed run sees exactly the batches an uninterrupted run would,
and data-loader workers need no shared random state.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from noise2stack.data.patches import PatchSource

Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple]


def draw_batch(
    source: PatchSource, transform: Transform, batch: int, rng: np.random.Generator, choices=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``batch`` examples: inputs (B, C, P, P), targets (B, K, P, P), loss mask (B, K, P, P);
    K = 1, or the image channels trained jointly.

    ``transform`` is the method's (e.g. blind-spot masking). The mask is all ones for methods that
    compute the loss on every pixel. ``choices``: the planes to draw from (see
    :meth:`PatchSource.sample`).
    """
    inputs, targets, masks = [], [], []
    for _ in range(batch):
        inp, tgt = source.sample(rng) if choices is None else source.sample(rng, choices)
        inp, tgt, mask = transform(inp, tgt, rng)
        inputs.append(inp)
        targets.append(tgt)
        # a (1, P, P) blind-spot mask covers every joint channel of the target (K, P, P)
        masks.append(np.ones_like(tgt) if mask is None else np.broadcast_to(mask, tgt.shape).astype(np.float32))
    return (torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets)), torch.from_numpy(np.stack(masks)))


def _distributed_rank() -> int:
    """This process's rank in a DDP run (0 when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


class EpochStepSampler(Sampler):
    """Yields ``(epoch, step)`` keys; Lightning calls :meth:`set_epoch` before every epoch.

    After a resume from a checkpoint written in the middle of epoch ``e`` after ``s`` steps,
    ``resume_at = (e, s)`` makes the first pass over epoch ``e`` start at step ``s``.
    """

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self.resume_at: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        # A generator: the body runs at the first next(), after Lightning's set_epoch. On restore,
        # Lightning creates the iterator before setting the epoch, and the first pass after a
        # resume is always the interrupted epoch.
        epoch, start = self.epoch, 0
        if self.resume_at is not None:
            (epoch, start), self.resume_at = self.resume_at, None
        rank = _distributed_rank()
        for step in range(start, self.steps_per_epoch):
            yield (epoch, step) if rank == 0 else (epoch, step, rank)

    def __len__(self) -> int:
        return self.steps_per_epoch


class TrainBatches(Dataset):
    """Map ``(epoch, step)`` to a whole training batch.

    ``local``: optional callable ``(epoch, step) -> plane indices`` restricting each batch to the
    planes it returns (:class:`noise2stack.data.streaming.LocalPlanes`, when streaming a volume
    larger than the plane cache).
    """

    def __init__(self, source: PatchSource, transform: Transform, batch: int, seed: int, local=None) -> None:
        self.source, self.transform, self.batch, self.seed, self.local = source, transform, batch, seed, local

    def __getitem__(self, key: tuple):
        # (epoch, step), or (epoch, step, rank) on the other ranks of a DDP run: rank 0 draws the
        # batches of a single-device run, each other rank a stream of its own.
        choices = None if self.local is None else self.local(key[0], key[1])
        return draw_batch(self.source, self.transform, self.batch, np.random.default_rng([self.seed, *key]), choices)

    def __len__(self) -> int:  # pragma: no cover - the sampler defines the length
        raise TypeError("TrainBatches is indexed by (epoch, step)")


def fixed_batches(source: PatchSource, transform: Transform, n_patches: int, batch: int, seed: int) -> list:
    """The same validation batches every epoch: ``n_patches`` examples in batches of ``batch``."""
    rng = np.random.default_rng([seed, 2**31 - 1])  # a stream no training batch uses
    out, left = [], n_patches
    while left > 0:
        out.append(draw_batch(source, transform, min(batch, left), rng))
        left -= batch
    return out
