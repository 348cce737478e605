"""Noise2SR (Tian et al. 2022, paper 002): denoise one noisy plane by learning to super-resolve it.

Training (§2.2-2.3): a patch y (P × P) is sub-sampled to y_J (P/2 × P/2, one random pixel per
2×2 cell, :mod:`noise2stack.data.subsample`); the network (``n2sr-unet``, output ×2) maps y_J to a
P × P image and the L2 loss looks only at the complement J^c (the three pixels per cell the network
was not given). Prediction (§2.4, ``sr_inference="paper"``, the default): the whole plane through
the network (2H × 2W), then bilinear down-sampling by 2; ``output_scale=2`` keeps the 2H × 2W
output. ``sr_inference="polyphase"``: each of the plane's four 2×2 polyphase components through the
network, as in training, every pixel the mean of the three predictions made without it; ``"mean"``:
the mean of the two (:mod:`noise2stack.nets.n2sr` says where each wins, with figures).
Planes are independent: works on single 2-D images and on stacks plane by plane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from noise2stack.config_sections import AlgorithmConfig
from noise2stack.data.subsample import subsample
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register
from noise2stack.nets.n2sr import SRDownsampled, SRFull, SRMean, SRPhase, SRPolyphase

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


#: ways to the denoised plane: §2.4's bilinear path, the sub-sampled components as in training, their mean
SR_INFERENCES = ("paper", "polyphase", "mean")


class N2SRConfig(AlgorithmConfig):
    """Noise2SR: one plane, sub-sampled by 2, super-resolved by ``n2sr-unet``."""

    method: Literal["n2sr"] = "n2sr"
    neighbors: int = 0
    residual: bool = False
    net: str = "n2sr-unet"


@register
class Noise2SR(Method):
    name = "n2sr"
    capabilities = Capabilities(
        needs_stack=False, output_scales=(1, 2), chunkable=False, joint_channels=False, view_options=("sr_inference",)
    )
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

    def prediction_net(
        self,
        net,
        config: TrainConfig,
        phase: tuple[int, int] | None = None,
        scale: int = 1,
        sr_inference: str | None = None,
        **view,
    ):
        """The denoised plane (``scale=1``, by ``sr_inference``: paper, polyphase or mean), the 2H × 2W
        output (``scale=2``), or one sub-pixel ``phase`` (dy, dx) of it."""
        super().prediction_net(net, config, **view)
        if sr_inference not in (None, *SR_INFERENCES):
            raise Noise2StackError(
                f"`sr_inference` must be {', '.join(SR_INFERENCES[:-1])} or {SR_INFERENCES[-1]}, got {sr_inference!r}"
            )
        if scale == 2 and sr_inference not in (None, "paper"):
            raise Noise2StackError(
                f"`sr_inference` {sr_inference} gives the plane at scale 1; `output_scale` 2 is the paper's"
            )
        if phase is not None:
            return SRPhase(net, *phase)
        if scale == 2:
            return SRFull(net)
        return {"polyphase": SRPolyphase, "mean": SRMean}.get(sr_inference or "paper", SRDownsampled)(net)
