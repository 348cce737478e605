"""Noise2Void (Krull et al. 2019), the blind-spot baseline of the Noise2Stack paper.

Input = the plane itself with a few pixels replaced (:mod:`noise2stack.data.blindspot`), target =
the plane, loss on the replaced pixels only. Works on single 2-D images and on stacks (planes are
independent, as the paper's baseline). ``replacement="median"`` is the N2V2 replacement; use it
with ``net="n2v2-unet"`` (blur-pool, no top skip) against checkerboard artefacts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from noise2stack.config_sections import AlgorithmConfig, BlindSpotFields
from noise2stack.data.blindspot import mask_patch
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register
from noise2stack.nets.blindspot import line_reach

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class N2VConfig(AlgorithmConfig, BlindSpotFields):
    """Noise2Void: one plane in, a share ``fraction`` of its pixels masked (N2V2: ``replacement="median"``)."""

    method: Literal["n2v"] = "n2v"
    neighbors: int = 0
    residual: bool = False  # as the n2v package's default U-Net


#: N2V2 (Höck et al. 2022): Noise2Void with the median replacement and the blur-pool U-Net without
#: its top skip, against checkerboard artefacts; what ``train --n2v2`` sets (flat option names).
N2V2 = {"method": "n2v", "net": "n2v2-unet", "n2v_replacement": "median"}


def mask(inputs: np.ndarray, rng: np.random.Generator, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Noise2Void's blind spot on one drawn example: (masked input, loss mask)."""
    algorithm = config.algorithm
    struct = line_reach(algorithm.struct, algorithm.struct_length)
    return mask_patch(inputs, algorithm.fraction, rng, algorithm.replacement, algorithm.window, struct)


@register
class Noise2Void(Method):
    name = "n2v"
    config_class = N2VConfig
    capabilities = Capabilities(needs_stack=False)
    compare_rows = (
        CompareRow("Noise2Void", 20),
        # N2V2: the blur-pool U-Net without top skip and median replacement, against checkerboard artefacts
        CompareRow("Noise2Void 2 (N2V2)", 21, {"net": "n2v2-unet", "n2v_replacement": "median"}),
    )

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def check(self, config: TrainConfig) -> None:
        if config.algorithm.neighbors != 0:
            raise Noise2StackError("`method` n2v sees one plane; `neighbors` must be 0")

    def transform(self, inputs: np.ndarray, target: np.ndarray, rng: np.random.Generator, config: TrainConfig):
        masked, loss_mask = mask(inputs, rng, config)
        return masked, target, loss_mask
