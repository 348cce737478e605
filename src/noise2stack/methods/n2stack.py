"""Noise2Stack (paper 000 §2.1): denoise plane i from its neighbours.

* ``mode=self``: input = the N neighbours, target = plane i of the same stack (needs no second copy).
* ``mode=copy``: input = plane i + its N neighbours, target = plane i of an independent noisy copy
  (N = 0 is exactly Noise2Noise).
"""

from __future__ import annotations

from noise2stack.config import TrainConfig
from noise2stack.data.sampler import check_neighbors
from noise2stack.methods.base import Method, TargetKind, register


@register
class Noise2Stack(Method):
    name = "n2stack"

    def include_center(self, config: TrainConfig) -> bool:
        return config.mode == "copy"

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "copy" if config.mode == "copy" else "self"

    def check(self, config: TrainConfig) -> None:
        check_neighbors(config.neighbors, self.include_center(config))
