"""Noise2Stack (paper 000 §2.1): denoise plane i from its neighbours.

* ``mode=self``: input = the N neighbours, target = plane i of the same stack (needs no second copy).
* ``mode=copy``: input = plane i + its N neighbours, target = plane i of an independent noisy copy
  (N = 0 is exactly Noise2Noise).
* ``mode=blindspot``: input = the N neighbours and plane i seen through a blind spot
  (:class:`noise2stack.nets.blindspot.BlindSpotStackNet`: a pixel, or a line with
  ``blindspot_shape``), target = plane i of the same stack, loss on every pixel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import field_validator

from noise2stack.config_sections import AlgorithmConfig, BlindSpotShape, option
from noise2stack.data.sampler import check_neighbors
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class N2StackConfig(AlgorithmConfig):
    """Noise2Stack: ``mode`` (self, copy or blindspot) and ``neighbors`` (N/2 planes on each side)."""

    method: Literal["n2stack"] = "n2stack"
    mode: Literal["self", "copy", "blindspot"] = option(  # type: ignore[assignment]  # one more choice than the others'
        "self", "self: input = neighbours only; copy: plane i + neighbours, target = a noisy copy"
    )
    blindspot_shape: BlindSpotShape = option(
        "pixel",
        "mode blindspot: what of plane i a pixel's prediction never sees: pixel (itself) | horizontal | vertical | "
        "both (a line of `blindspot-length` pixels through it, against noise correlated along rows or columns)",
    )
    blindspot_length: int = option(5, "mode blindspot: length of the line shapes in pixels (odd)", ge=1, le=31)

    @field_validator("blindspot_length")
    @classmethod
    def _odd_length(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (pixels on both sides of the hidden one), got {value}")
        return value


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
        # issue 24: self 2's neighbours beside plane i through a blind spot
        CompareRow("Noise2Stack blind-spot 2", 44, {"mode": "blindspot", "neighbors": 2}),
    )

    def include_center(self, config: TrainConfig) -> bool:
        return config.algorithm.mode in ("copy", "blindspot")

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "copy" if config.algorithm.mode == "copy" else "self"

    def check(self, config: TrainConfig) -> None:
        check_neighbors(config.algorithm.neighbors, self.include_center(config))
        if config.algorithm.mode == "blindspot":
            if config.algorithm.neighbors < 2:
                raise Noise2StackError("`mode` blindspot needs `neighbors` >= 2 beside plane i's blind spot")
            if config.data.joint_channels > 1:
                raise Noise2StackError("`mode` blindspot trains one image channel at a time, not `channels` joint")

    def residual_channels(self, config: TrainConfig) -> list[int]:
        if config.algorithm.mode != "blindspot" or not config.algorithm.residual:
            return super().residual_channels(config)
        k = config.algorithm.neighbors // 2
        return [k - 1, k + 1]  # the innermost neighbours; channel k is plane i, behind the blind spot

    def net_options(self, config: TrainConfig) -> dict:
        if config.algorithm.mode != "blindspot":
            return {}
        algorithm = config.algorithm
        return {
            "blindspot_center": algorithm.neighbors // 2,
            "blindspot_shape": algorithm.blindspot_shape,
            "blindspot_length": algorithm.blindspot_length,
        }


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
