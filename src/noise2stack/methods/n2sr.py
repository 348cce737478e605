"""Noise2SR (Tian et al. 2022, paper 002): denoise one noisy plane by learning to super-resolve it.

Training (§2.2-2.3): a patch y (P × P) is sub-sampled to y_J (P/2 × P/2, one random pixel per
2×2 cell, :mod:`noise2stack.data.subsample`); the network (``n2sr-unet``, output ×2) maps y_J to a
P × P image and the L2 loss looks only at the complement J^c (the three pixels per cell the network
was not given). Prediction (§2.4): the whole plane through the network (2H × 2W), then bilinear
down-sampling by 2 (:mod:`noise2stack.nets.n2sr`); ``output_scale=2`` keeps the 2H × 2W output.
Planes are independent: works on single 2-D images and on stacks plane by plane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from noise2stack.config_sections import AlgorithmConfig
from noise2stack.data.subsample import subsample
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register
from noise2stack.nets.n2sr import SRDownsampled, SRFull, SRPhase

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class N2SRConfig(AlgorithmConfig):
    """Noise2SR: one plane, sub-sampled by 2, super-resolved by ``n2sr-unet``."""

    method: Literal["n2sr"] = "n2sr"
    neighbors: int = 0
    residual: bool = False
    net: str = "n2sr-unet"


@register
class Noise2SR(Method):
    name = "n2sr"
    capabilities = Capabilities(needs_stack=False, output_scales=(1, 2), chunkable=False, joint_channels=False)
    config_class = N2SRConfig
    own_nets = ("n2sr-unet",)
    compare_rows = (CompareRow("Noise2SR", 50),)

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def output_scale(self, config: TrainConfig) -> int:
        return 2

    def check(self, config: TrainConfig) -> None:
        if config.algorithm.neighbors != 0:
            raise Noise2StackError("`method` n2sr sees one plane; `neighbors` must be 0")
        if config.algorithm.net != "n2sr-unet":
            raise Noise2StackError(
                f"`method` n2sr needs `net` n2sr-unet (output twice the input), not {config.algorithm.net}"
            )
        if config.data.patch % 2:
            raise Noise2StackError(f"`method` n2sr needs an even `patch` (2x2 cells), got {config.data.patch}")

    def transform(self, inputs: np.ndarray, target: np.ndarray, rng: np.random.Generator, config: TrainConfig):
        sub, mask = subsample(inputs, rng)  # (1, P/2, P/2) in, (1, P, P) target and loss mask
        return sub, target, mask

    def prediction_net(self, net, config: TrainConfig, phase: tuple[int, int] | None = None, scale: int = 1, **view):
        """The denoised plane (``scale=1``), the 2H × 2W output (``scale=2``), or one sub-pixel
        ``phase`` (dy, dx) of it."""
        super().prediction_net(net, config, **view)
        if phase is not None:
            return SRPhase(net, *phase)
        return SRFull(net) if scale == 2 else SRDownsampled(net)
