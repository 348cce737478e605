"""Noise2Stack (paper 000 §2.1): denoise plane i from its neighbours.

* ``mode=self``: input = the N neighbours, target = plane i of the same stack (needs no second copy).
* ``mode=copy``: input = plane i + its N neighbours, target = plane i of an independent noisy copy
  (N = 0 is exactly Noise2Noise).
"""

from __future__ import annotations

from noise2stack.config import TrainConfig
from noise2stack.data.sampler import check_neighbors
from noise2stack.errors import Noise2StackError
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


@register
class Noise2Noise(Noise2Stack):
    """Noise2Noise (Lehtinen et al.): plane i of one noisy copy predicts plane i of the other.

    Exactly Noise2Stack in copy mode with no neighbours: the same sampler, batches and loss.
    """

    name = "n2n"
    defaults = {"mode": "copy", "neighbors": 0}

    def check(self, config: TrainConfig) -> None:
        if config.mode != "copy" or config.neighbors != 0:
            raise Noise2StackError(
                "--method n2n is copy mode with no neighbours; for neighbours use --method n2stack --mode copy"
            )
