"""Which method to advise, by the situation a measurement or a user interface is in.

:func:`recommend` decides from the measurements of
:func:`noise2stack.metrics.stack_analysis.analyze_stack` which situation a stack is in; the method
names it returns come from :data:`ADVICE`, so that method names stay in this package. What to offer in a dialog (:func:`self_supervised`) and whether to print a
neighbour count (:func:`chooses_neighbors`) are asked of the methods' capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from noise2stack.config import make_config
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import METHODS, get_method
from noise2stack.metrics.stack_analysis import CORRELATED_IN_PLANE, CORRELATED_NOISE, PREDICTABLE_DB


@dataclass(frozen=True)
class Advice:
    """A method and mode as ``noise2stack train --method --mode`` take them."""

    method: str
    mode: Literal["self", "copy"]


#: The advice for each situation :func:`recommend` tells apart.
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
    default = make_config().method
    names = [default] + [name for name in METHODS if name != default]
    return [
        name
        for name in names
        if METHODS[name].target_kind(make_config(method=name)) == "self"
        and not METHODS[name].capabilities.needs_noise_model
    ]


def self_supervised_modes(method: str) -> list[str]:
    """The ``--mode`` choices of ``method`` that train on a noisy stack alone, in its section's order.

    Each choice of the section's ``mode`` field is tried with the section's defaults: kept when its
    target is the stack itself and the method accepts it (Noise2Stack: self and blindspot; copy
    needs a second stack).
    """
    strategy = get_method(method)
    modes = []
    for mode in get_args(strategy.config_class.model_fields["mode"].annotation):
        try:
            config = make_config(method=method, mode=mode)
            strategy.validate(config)
        except Noise2StackError:
            continue
        if strategy.target_kind(config) == "self":
            modes.append(mode)
    return modes


def blindspot_shape(autocorrelation: dict | None) -> tuple[str, int]:
    """The blind spot (``--blindspot-shape`` / ``--n2v-struct`` and its length) that in-plane noise
    correlation calls for: a line along each axis whose lag-1 autocorrelation reaches
    :data:`CORRELATED_IN_PLANE`, long enough to cover every lag above it; else a pixel.

    Both axes only when the weaker lag-1 value is at least half the stronger: the residual that
    measures one axis differences across the other, which damps noise correlated along that other
    axis and lets the signal's curvature show as a smaller, spurious correlation.
    """
    first, reach = {}, {}
    for axis in ("y", "x"):
        values = {int(d): r for d, r in (autocorrelation or {}).get(axis, {}).items() if r is not None}
        first[axis] = values.get(1, 0.0)
        above = [d for d, r in sorted(values.items()) if r >= CORRELATED_IN_PLANE]
        reach[axis] = max(above) if first[axis] >= CORRELATED_IN_PLANE else 0
    for axis, other in (("y", "x"), ("x", "y")):
        if first[axis] < 0.5 * first[other]:
            reach[axis] = 0
    shape = {(False, False): "pixel", (True, False): "vertical", (False, True): "horizontal"}.get(
        (reach["y"] > 0, reach["x"] > 0), "both"
    )
    return shape, 2 * max(reach.values()) + 1


def struct_flags(recommendation: dict) -> str:
    """The ``train`` flags of a recommendation's line-shaped blind spot, for a method that takes one
    (its section has structN2V's ``struct``); empty otherwise."""
    shape = recommendation.get("blindspot_shape", "pixel")
    if shape == "pixel" or "struct" not in get_method(recommendation["method"]).config_class.model_fields:
        return ""
    return f" --n2v-struct {shape} --n2v-struct-length {recommendation['blindspot_length']}"


def _with_blindspot(recommendation: dict, analysis: dict) -> dict:
    """``recommendation`` with ``blindspot_shape`` and ``blindspot_length``, and why when not a pixel."""
    shape, length = blindspot_shape(analysis.get("noise_autocorrelation"))
    recommendation = {**recommendation, "blindspot_shape": shape, "blindspot_length": length}
    if shape != "pixel":
        along = {"horizontal": "rows", "vertical": "columns", "both": "rows and columns"}[shape]
        recommendation["reason"] += (
            f"; the noise is correlated along {along} within a plane (up to {length // 2} px): a blind spot "
            f"must hide a {shape} line of {length} px"
        )
    return recommendation


def recommend(analysis: dict, has_copy: bool) -> dict:
    """A method, mode and neighbour count (names ``train`` takes) and one sentence why.

    Rules, in order (thresholds :data:`CORRELATED_NOISE`, :data:`PREDICTABLE_DB`; they agree with the
    measured rankings in ``benchmarks/quality/results/analyze_advice.md``):

    1. A copy whose noise is independent of the stack: copy mode (Noise2Stack copy when neighbouring
       planes share signal, else Noise2Noise).
    2. Noise correlated between neighbouring planes: Noise2Void (blind spot in the plane); Noise2Stack
       self would learn to copy the noise.
    3. Neighbouring planes too unlike (serial sections): Noise2Void.
    4. Otherwise Noise2Stack self, 4 neighbours when planes two apart still share signal, else 2.

    The rules name situations; the method and mode of each come from
    :data:`ADVICE`, and the neighbour count is given only to a method that
    lets the user choose it (0 otherwise). Every recommendation also names the blind spot
    (``blindspot_shape``, ``blindspot_length``: :func:`blindspot_shape`) that a blind-spot method
    (Noise2Void's struct mask, Noise2Stack's ``blindspot`` mode) should use on this noise.
    """
    return _with_blindspot(_recommend(analysis, has_copy), analysis)


def _recommend(analysis: dict, has_copy: bool) -> dict:
    pred = analysis["neighbor_predictability_db"]
    p1, p2 = pred.get(1), pred.get(2)
    rho = analysis["noise_correlation"]
    shares = p1 is not None and p1 >= PREDICTABLE_DB
    neighbors = 4 if shares and p2 is not None and p2 >= PREDICTABLE_DB else 2
    p1_text = f"{p1:.1f} dB" if p1 is not None else "n/a"
    copy_rho = analysis.get("copy_noise_correlation")
    if has_copy and (copy_rho is None or copy_rho < CORRELATED_NOISE):
        if shares:
            return _advise(
                "copy, neighbours share signal",
                neighbors,
                f"you have two copies with independent noise and neighbouring planes share signal "
                f"(predictability {p1_text}): train on the copy with {neighbors} neighbour planes",
            )
        return _advise(
            "copy, neighbours unlike",
            neighbors,
            f"you have two copies with independent noise but neighbouring planes are too unlike "
            f"(predictability {p1_text}): Noise2Noise on the copy, no neighbours",
        )
    copy_note = (
        f" (the copy's noise is correlated with the stack's, r = {copy_rho:.2f}, so it is no independent target)"
        if has_copy
        else ""
    )
    if analysis["planes_sampled"] < 2 or p1 is None:
        why = "a single plane has no neighbours: Noise2Void (blind spot in the plane; pn2v where available)"
        return _advise("no neighbours", neighbors, why + copy_note)
    if rho is not None and rho >= CORRELATED_NOISE:
        why = (
            f"the noise is strongly correlated between neighbouring planes (r = {rho:.2f}; resampled or "
            f"interpolated along z?): Noise2Stack self would learn to copy it, so use Noise2Void / pn2v, "
            f"or acquire a second independent copy for copy mode"
        )
        return _advise("no neighbours", neighbors, why + copy_note)
    if not shares:
        why = (
            f"neighbouring planes are too unlike (predictability {p1_text} < {PREDICTABLE_DB:g} dB; serial "
            f"sections?): Noise2Void / pn2v, which needs no neighbours"
        )
        return _advise("no neighbours", neighbors, why + copy_note)
    return _advise(
        "neighbours",
        neighbors,
        f"neighbouring planes share signal (predictability {p1_text}) and their noise is independent "
        f"(r = {rho:.2f}): Noise2Stack self with {neighbors} neighbours" + copy_note,
    )


def _advise(situation: str, neighbors: int, reason: str) -> dict:
    """The recommendation (``analyze --json``'s ``method``, ``mode``, ``neighbors``, ``reason``) for a situation
    of :data:`ADVICE`; ``neighbors`` counts only where the method takes a choice."""
    advice = ADVICE[situation]
    return {
        "method": advice.method,
        "mode": advice.mode,
        "neighbors": neighbors if chooses_neighbors(advice.method) else 0,
        "reason": reason,
    }
