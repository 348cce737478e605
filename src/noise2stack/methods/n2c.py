"""Noise2Clean / CARE: supervised training on (noisy, clean) pairs of stacks.

Input = plane i of the noisy stack (plus neighbours if asked), target = plane i of the clean stack.
"""

from __future__ import annotations

from noise2stack.config import TrainConfig
from noise2stack.data.sampler import check_neighbors
from noise2stack.methods.base import Method, TargetKind, register


@register
class Noise2Clean(Method):
    name = "n2c"
    defaults = {"neighbors": 0}

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "clean"

    def check(self, config: TrainConfig) -> None:
        check_neighbors(config.neighbors, include_center=True)
