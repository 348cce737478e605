"""What every training strategy provides, and the registry of strategies by name."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Literal

import numpy as np
import torch

from noise2stack.config_sections import AlgorithmConfig
from noise2stack.errors import Noise2StackError

if TYPE_CHECKING:  # the root config is built from this registry (noise2stack.config)
    from noise2stack.config import TrainConfig

TargetKind = Literal["self", "copy", "clean"]


@dataclass(frozen=True)
class Capabilities:
    """What a method needs and offers, declared so that ``api``, ``train`` and ``predict`` ask the
    method instead of branching on its name.

    Attributes
    ----------
    needs_stack : bool
        Takes neighbours from a stack: single 2-D images are refused.
    needs_noise_model : bool
        Trains and predicts through a noise model p(x | s) (probabilistic methods).
    interior_planes_only : bool
        Trains only on planes with both neighbours inside the stack (NRRN's triplets).
    output_scales : tuple of int
        The Y/X scales a prediction can have (Noise2SR: 1 or 2).
    chunkable : bool
        One plane in, one plane out in a single pass: chunked (Zarr) prediction and export work.
    joint_channels : bool
        Can train one model on several image channels at once.
    uncertainty : bool
        Predicts a posterior standard deviation beside the estimate.
    units : bool
        Can write the running image after each building unit (NRRN).
    view_options : tuple of str
        Method-specific prediction options :meth:`Method.prediction_net` takes (NRRN: ``images``).
    neighbor_choice : bool
        The neighbour count is the user's choice (``--neighbors``); otherwise the method's section
        fixes it (Noise2Void 0, NRRN 2) and advice or a widget does not offer it.
    """

    needs_stack: bool = True
    needs_noise_model: bool = False
    interior_planes_only: bool = False
    output_scales: tuple[int, ...] = (1,)
    chunkable: bool = True
    joint_channels: bool = True
    uncertainty: bool = False
    units: bool = False
    view_options: tuple[str, ...] = ()
    neighbor_choice: bool = False


@dataclass(frozen=True)
class CompareRow:
    """One trained row of ``noise2stack compare`` (paper 000, Table 1) that a method contributes.

    Attributes
    ----------
    label : str
        The row's name in the table, and how ``compare --methods`` picks it.
    position : int
        Where the row stands among the trained rows: ascending, ties in registry order
        (:func:`noise2stack.compare.trained_rows`).
    options : dict
        Flat training options of the row (``api.train`` keywords); they win over the shared ones.
    needs : {"", "copy", "clean"}
        The target the row trains against besides the noisy stack: the second noisy copy or the
        clean stack; empty for self-supervised rows.
    """

    label: str
    position: int
    options: dict = field(default_factory=dict)
    needs: Literal["", "copy", "clean"] = ""


class Method:
    """A training strategy. Subclasses override only what differs from plain MSE on all pixels.

    Attributes
    ----------
    name : str
        Registry name (``--method``).
    config_class : type of AlgorithmConfig
        The method's configuration section (its fields and their defaults, e.g. Noise2Noise: copy
        mode, no neighbours); values the user gives win, and :meth:`check` refuses contradictions.
    capabilities : Capabilities
        What the method needs and offers.
    compare_rows : tuple of CompareRow
        The method's rows in ``noise2stack compare`` (none: the method is not compared, e.g. it
        needs a noise model the comparison does not make).
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[AlgorithmConfig]] = AlgorithmConfig
    capabilities: ClassVar[Capabilities] = Capabilities()
    own_nets: ClassVar[tuple[str, ...]] = ()  # networks only this method can use (their input or output differ)
    compare_rows: ClassVar[tuple[CompareRow, ...]] = ()
    loss_kind: str = "mse"  # "mae" on a copy bound to a config with loss="mae"

    def include_center(self, config: TrainConfig) -> bool:
        """Whether plane ``i`` itself is an input channel."""
        raise NotImplementedError

    def target_kind(self, config: TrainConfig) -> TargetKind:
        """Where the target plane comes from: the input stack, an independent noisy copy, a clean stack."""
        raise NotImplementedError

    def check(self, config: TrainConfig) -> None:
        """Raise :class:`Noise2StackError` for a config this method cannot train."""

    def validate(self, config: TrainConfig) -> None:
        """:meth:`check`, after the rule every method shares: ``mode`` copy means the target is a noisy copy,
        so a method whose target is its own stack (or a clean one) refuses it instead of ignoring it."""
        if config.algorithm.mode == "copy" and self.target_kind(config) != "copy":
            raise Noise2StackError(
                f"`method` {config.method} does not train against a noisy copy; `mode` copy is not one of its modes"
            )
        self.check(config)

    def prepare_stacks(self, config: TrainConfig, noise_model, stacks: list, what: str) -> list:
        """Stacks as the method trains or predicts on them (raw units); default: unchanged.

        Probabilistic methods check (or clip) the data against ``noise_model``'s range; ``what``
        names the data in their message ("the training data").
        """
        return list(stacks)

    def load_noise_model(self, config: TrainConfig):
        """The noise model a probabilistic method trains with (read from its config); default: None."""
        return None

    def in_channels(self, config: TrainConfig) -> int:
        return config.algorithm.neighbors + int(self.include_center(config))

    def out_channels(self, config: TrainConfig) -> int:
        """Network output planes: 1 (the denoised plane), or K signal samples (probabilistic methods)."""
        return 1

    def bind(self, config: TrainConfig, normalizer, noise_model=None) -> Method:
        """The method as one model uses it: probabilistic methods return a copy holding the noise
        model in network units (the registry's instance stays stateless); others return ``self``,
        or a copy that computes ``config.algorithm.loss`` when it is not the mean squared error."""
        if config.algorithm.loss == self.loss_kind:
            return self
        bound = copy.copy(self)
        bound.loss_kind = config.algorithm.loss
        return bound

    # Optional prediction hook: ``finish(net_output (B, K, Y, X), observation (B, 1, Y, X)) -> (B, 2, Y, X)``
    # turning the network's output and the observed plane i (network units) into (estimate, std).
    finish: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def prediction_head(
        self, config: TrainConfig, **view
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
        """:attr:`finish` as this prediction uses it (``view``: the prediction's view options)."""
        return self.finish

    def residual_channels(self, config: TrainConfig) -> list[int]:
        """Input channels whose mean is added to the network output."""
        if not config.algorithm.residual:
            return []
        k = config.algorithm.neighbors // 2
        if self.include_center(config):
            return [k]  # the plane itself
        return [k - 1, k]  # the two innermost neighbours, i-1 and i+1

    def transform(
        self, inputs: np.ndarray, target: np.ndarray, rng: np.random.Generator, config: TrainConfig
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Turn one drawn example into (input, target, loss mask); default: unchanged, no mask."""
        return inputs, target, None

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared (or, ``loss_kind="mae"``, absolute) error, over the masked pixels when a mask is given."""
        error = (prediction - target).abs() if self.loss_kind == "mae" else (prediction - target) ** 2
        if mask is None:
            return torch.mean(error)
        return torch.sum(mask * error) / mask.sum().clamp_min(1)

    # --- hooks for methods whose network or loss is not one plane in, one plane out (issue 10) ---
    def unit_count(self, config: TrainConfig) -> int:
        """Building units whose running image prediction can write (``capabilities.units``)."""
        return 0

    def output_scale(self, config: TrainConfig) -> int:
        """How many times larger (in Y and X) the network's output is than its input (Noise2SR: 2)."""
        return 1

    def net_options(self, config: TrainConfig) -> dict:
        """Extra keyword arguments for :func:`noise2stack.nets.build_net` (e.g. NRRN's ``units``)."""
        return {}

    def training_loss(self, forward, inputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Loss of one batch; ``forward`` runs the network. Default: :meth:`loss` of the single output.

        ``transform`` may return inputs and targets of different sizes (Noise2SR: P/2 in, P out).
        """
        return self.loss(forward(inputs).float(), targets, masks)

    def prediction_net(self, net: torch.nn.Module, config: TrainConfig, **view) -> torch.nn.Module:
        """The network the tiler runs for prediction (one plane in, one plane out, same size).

        ``view`` holds method-specific prediction options (e.g. NRRN's ``images``); the default
        method has none and refuses any.
        """
        given = {k: v for k, v in view.items() if v is not None}
        if given:
            raise Noise2StackError(f"`{next(iter(given))}` is not an option of `method` {self.name}")
        return net


METHODS: dict[str, Method] = {}


def register(method_cls: type[Method]) -> type[Method]:
    """Class decorator: add an instance of ``method_cls`` to :data:`METHODS` under its name."""
    METHODS[method_cls.name] = method_cls()
    return method_cls


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise Noise2StackError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}")
    return METHODS[name]
