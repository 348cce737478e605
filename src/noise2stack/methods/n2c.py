"""Noise2Clean / CARE: supervised training on (noisy, clean) pairs of stacks.

Input = plane i of the noisy stack (plus neighbours if asked), target = plane i of the clean stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from noise2stack.config_sections import AlgorithmConfig
from noise2stack.data.sampler import check_neighbors
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class N2CConfig(AlgorithmConfig):
    """Noise2Clean: plane i (and ``neighbors`` around it) against the clean plane."""

    method: Literal["n2c"] = "n2c"
    neighbors: int = 0


@register
class Noise2Clean(Method):
    name = "n2c"
    config_class = N2CConfig
    capabilities = Capabilities(neighbor_choice=True)
    compare_rows = (CompareRow("Noise2Clean", 10, needs="clean"),)

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "clean"

    def check(self, config: TrainConfig) -> None:
        check_neighbors(config.algorithm.neighbors, include_center=True)
