"""Which method to advise, by the situation a measurement or a user interface is in.

:func:`noise2stack.metrics.stack_analysis.recommend` decides from measurements which situation a
stack is in; the method names it returns come from :data:`ADVICE` here, so that method names stay
in this package. What to offer in a dialog (:func:`self_supervised`) and whether to print a
neighbour count (:func:`chooses_neighbors`) are asked of the methods' capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from noise2stack.methods.base import METHODS, get_method


@dataclass(frozen=True)
class Advice:
    """A method and mode as ``noise2stack train --method --mode`` take them."""

    method: str
    mode: Literal["self", "copy"]


#: The advice for each situation :func:`~noise2stack.metrics.stack_analysis.recommend` tells apart.
ADVICE: dict[str, Advice] = {
    # a second copy with independent noise, neighbouring planes share signal: copy mode with neighbours
    "copy, neighbours share signal": Advice("n2stack", "copy"),
    # a second copy, neighbouring planes too unlike: the copy alone is the target
    "copy, neighbours unlike": Advice("n2n", "copy"),
    # no usable neighbours (one plane, noise correlated between planes, planes unlike): a blind spot
    "no neighbours": Advice("n2v", "self"),
    # neighbouring planes share signal and their noise is independent: self-supervision on neighbours
    "neighbours": Advice("n2stack", "self"),
}


def chooses_neighbors(method: str) -> bool:
    """Whether ``method`` takes a neighbour count from the user (``--neighbors``), so advice names one."""
    return get_method(method).capabilities.neighbor_choice


def self_supervised() -> list[str]:
    """Methods that train on a noisy stack alone: the target is the stack itself and no noise model is needed.

    Judged from each method's default configuration (``target_kind`` of its section's defaults).
    The default method (:class:`~noise2stack.config.TrainConfig`'s) comes first, the others in
    registry order.
    """
    from noise2stack.config import make_config  # the root config is built from the registry

    default = make_config().method
    names = [default] + [name for name in METHODS if name != default]
    return [
        name
        for name in names
        if METHODS[name].target_kind(make_config(method=name)) == "self"
        and not METHODS[name].capabilities.needs_noise_model
    ]
