"""Noise2Stack (paper 000 §2.1): denoise plane i from its neighbours.

* ``mode=self``: input = the N neighbours, target = plane i of the same stack (needs no second copy).
* ``mode=copy``: input = plane i + its N neighbours, target = plane i of an independent noisy copy
  (N = 0 is exactly Noise2Noise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from noise2stack.config_sections import AlgorithmConfig
from noise2stack.data.sampler import check_neighbors
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class N2StackConfig(AlgorithmConfig):
    """Noise2Stack: ``mode`` (self or copy) and ``neighbors`` (N/2 planes on each side)."""

    method: Literal["n2stack"] = "n2stack"


class N2NConfig(AlgorithmConfig):
    """Noise2Noise: copy mode without neighbours."""

    method: Literal["n2n"] = "n2n"
    mode: Literal["self", "copy"] = "copy"
    neighbors: int = 0


@register
class Noise2Stack(Method):
    name = "n2stack"
    config_class = N2StackConfig
    capabilities = Capabilities(neighbor_choice=True)
    # paper 000 Table 1: copy mode with 2 and 4 neighbours, then self mode
    compare_rows: ClassVar[tuple[CompareRow, ...]] = (
        CompareRow("Noise2Stack copy 1+2", 40, {"mode": "copy", "neighbors": 2}, needs="copy"),
        CompareRow("Noise2Stack copy 1+4", 41, {"mode": "copy", "neighbors": 4}, needs="copy"),
        CompareRow("Noise2Stack self 2", 42, {"mode": "self", "neighbors": 2}),
        CompareRow("Noise2Stack self 4", 43, {"mode": "self", "neighbors": 4}),
    )

    def include_center(self, config: TrainConfig) -> bool:
        return config.algorithm.mode == "copy"

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "copy" if config.algorithm.mode == "copy" else "self"

    def check(self, config: TrainConfig) -> None:
        check_neighbors(config.algorithm.neighbors, self.include_center(config))


@register
class Noise2Noise(Noise2Stack):
    """Noise2Noise (Lehtinen et al.): plane i of one noisy copy predicts plane i of the other.

    Exactly Noise2Stack in copy mode with no neighbours: the same sampler, batches and loss.
    """

    name = "n2n"
    config_class = N2NConfig  # type: ignore[assignment]  # a sibling section, not N2StackConfig's subclass
    capabilities = Capabilities()  # no neighbours: not Noise2Stack's choice of them
    compare_rows = (CompareRow("Noise2Noise", 30, needs="copy"),)

    def check(self, config: TrainConfig) -> None:
        if config.algorithm.mode != "copy" or config.algorithm.neighbors != 0:
            raise Noise2StackError(
                "`method` n2n is copy mode with no neighbours; for neighbours use `method` n2stack `mode` copy"
            )
