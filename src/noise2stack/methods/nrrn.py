"""NRRN (Giannios et al., paper 003): denoise plane j from the pairs (x_{j-1}, x_j), (x_{j+1}, x_j).

Training (§2.1.2): the triplet [x_{j-1}, x_j, x_{j+1}] comes from the Noise2Stack plane sampler
(``neighbors=2, include_center=True``); the network (``nrrn``) runs its one branch on both pairs
and the consensus loss of eq. 3 compares each branch with the other neighbour::

    L = mean over pixels of  1/2 (x'_j - x_{j+1})² + 1/2 (x''_j - x_{j-1})² - 1/4 (x'_j - x''_j)²

with x'_j = f(x_{j-1}, x_j) and x''_j = f(x_{j+1}, x_j). Only planes with both neighbours inside the
stack are trained on (the paper's N - 2 triplets): at an end plane the sampler's stand-in neighbour
is the other neighbour itself, and the loss would reward copying an input. Prediction: the mean of
the two branches, or one branch on two images or on one (``images``, §2.2.2 remark), or the running
image after a building unit (``unit``).

Defaults for CPU budgets (issue 23): Adam at 1e-3, not the paper's 1e-4 (§2.2.2), which the authors
run for ~15k steps of batch 16. From the identity start (the running image passes through), 50 steps
of batch 4 at 1e-4 leave it near its input: ISBI EM, Poisson peak 8, 12.71 dB against 16.98 at 1e-3
(3e-3 diverges: 10.94); on the re-sliced stack 15.74 against 18.55. One building unit, as the
authors' training script builds (yliu7366/NRRN ``main.py``: ``get_net(input_depth=1)``, "number of
Building Units"), not the text's four: at equal steps 16.72 against 16.98 dB (EM) and 18.83 against
18.55 (re-sliced), for 0.37 s a step against 1.41 (float32, batch 4 of 64², AMD EPYC).

Data defaults (``data_defaults``): batch 4 of 16 x 16 patches, not the shared 16 of 64 x 64. The net
has no pooling (its output sees 6 px around a pixel), so small patches lose nothing, and in a CPU
budget many cheap steps beat few large ones: at 120 s NRRN makes 4500-4900 steps instead of about
100 and goes from 29.23 to 34.65 dB on Tribolium (Noise2Void 33.98) and from 34.49 to 35.07 on
Arabidopsis (Noise2Void 34.60), ``benchmarks/papers/results/nrrn_budget.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from noise2stack.config_sections import AlgorithmConfig, option
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, CompareRow, Method, TargetKind, register
from noise2stack.nets.nrrn import NRRNView

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class NRRNConfig(AlgorithmConfig):
    """NRRN: the triplet [j-1, j, j+1], ``units`` building units (see the module docstring for the defaults)."""

    data_defaults: ClassVar[dict[str, Any]] = {"patch": 16, "batch": 4}

    method: Literal["nrrn"] = "nrrn"
    neighbors: int = 2
    residual: bool = False
    net: str = "nrrn"
    units: int = option(
        1, "NRRN: number of building units (L + 1 in paper 003, eq. 1; its text uses 4, its code 1)", ge=1, le=32
    )


def consensus_loss(first: torch.Tensor, second: torch.Tensor, below: torch.Tensor, above: torch.Tensor) -> torch.Tensor:
    """Eq. 3 of paper 003 averaged over pixels and batch.

    ``first`` = f(x_{j-1}, x_j), compared with ``above`` = x_{j+1}; ``second`` = f(x_{j+1}, x_j),
    compared with ``below`` = x_{j-1}. All (N, 1, H, W).
    """
    return torch.mean(0.5 * (first - above) ** 2 + 0.5 * (second - below) ** 2 - 0.25 * (first - second) ** 2)


@register
class NRRNMethod(Method):
    name = "nrrn"
    capabilities = Capabilities(
        interior_planes_only=True, chunkable=False, joint_channels=False, units=True, view_options=("images",)
    )
    config_class = NRRNConfig
    own_nets = ("nrrn",)
    compare_rows = (CompareRow("NRRN", 60),)

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def residual_channels(self, config: TrainConfig) -> list[int]:
        return []

    def unit_count(self, config: TrainConfig) -> int:
        return config.algorithm.units

    def net_options(self, config: TrainConfig) -> dict:
        return {"units": config.algorithm.units}

    def check(self, config: TrainConfig) -> None:
        if config.algorithm.neighbors != 2 or config.algorithm.mode != "self":
            raise Noise2StackError("`method` nrrn takes the triplet [j-1, j, j+1]: `neighbors` 2, `mode` self")
        if config.algorithm.net != "nrrn":
            raise Noise2StackError(f"`method` nrrn needs `net` nrrn, not {config.algorithm.net}")
        if config.algorithm.residual:
            raise Noise2StackError("`method` nrrn has its own residual path; use `residual=False`")

    def training_loss(self, forward, inputs, targets, masks):
        first, second = forward(inputs, return_branches=True)
        return consensus_loss(first.float(), second.float(), inputs[:, 0:1].float(), inputs[:, 2:3].float())

    def prediction_net(self, net, config: TrainConfig, images: int | None = None, unit: int | None = None, **view):
        super().prediction_net(net, config, **view)
        if images is not None and images not in (1, 2, 3):
            raise Noise2StackError(f"`images` must be 1, 2 or 3, got {images}")
        if unit is not None and not 1 <= unit <= config.algorithm.units:
            raise Noise2StackError(f"unit {unit} outside this model's 1..{config.algorithm.units} building units")
        return NRRNView(net, images or 3, unit)
