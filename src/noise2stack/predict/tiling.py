"""The one tiler: every plane of a stack through a network window by window, joined by a stitch.

A splitter (:mod:`noise2stack.predict.grid` with the stitch's plan) places windows of one size on
the padded plane, the predictor runs them in batches (windows of consecutive planes share a batch,
so no per-tile shape logic is needed), and a merger (:mod:`noise2stack.predict.blend` or
:mod:`noise2stack.predict.cut`) joins each plane's windows as they arrive. What the method adds (its
prediction network, a head that turns samples into an estimate) comes in as ``net`` and ``head``;
the tiler knows no method. With either stitch at its default overlap the result equals the
whole-plane pass of the network to float rounding (tests/predict/test_tiling.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.predict.blend import BLEND, blend_weights
from noise2stack.predict.cut import CUT
from noise2stack.predict.grid import AxisPlan, Merger, Stitch, pad_plane, round_up, tile_starts, window_start
from noise2stack.predict.options import PredictOptions
from noise2stack.resources import autocast, check_memory, network_bytes, reuse_freed_memory, unheaped_zeros

__all__ = ["DIHEDRAL", "STITCHES", "blend_weights", "predict_stack", "tile_starts", "window_start"]

#: ``head(net_output, observed) -> output``: what a method makes of the network's output for a batch
#: of windows, e.g. an MMSE estimate from samples. ``net_output`` is (B, K, h, w); ``observed`` is
#: (B, 1, h, w), plane ``i`` itself (normalised) over the same window; the result is (B, C, h', w').
Head = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``progress(planes_done, planes_total)``.
Progress = Callable[[int, int], None]
#: The ways of joining tiles, by ``PredictOptions.stitch``.
STITCHES: dict[str, Stitch] = {"blend": BLEND, "cut": CUT}


@dataclass(frozen=True)
class Window:
    """One network input: window (``iy``, ``ix``) of output plane ``z``, (K, h, w) inputs and, for a
    head, (C, h, w) of the observed plane."""

    z: int
    iy: int
    ix: int
    inputs: np.ndarray
    observed: np.ndarray | None


def predict_stack(
    net: torch.nn.Module,
    stack: np.ndarray,
    neighbors: int,
    include_center: bool,
    options: PredictOptions | None = None,
    *,
    head: Head | None = None,
    planes: Sequence[int] | None = None,
    channels_last: bool = True,
    progress: bool | Progress = False,
    **settings,
) -> np.ndarray:
    """Denoise every plane of a normalised ``ZYX`` stack.

    Parameters
    ----------
    net : torch.nn.Module
        A network with ``depth`` and ``context`` (px) attributes (see :mod:`noise2stack.nets`), or a
        method's prediction view of one; (N, K, h, w) in, (N, C, h * s, w * s) out.
    stack : ndarray, shape (Z, Y, X), float32
        Normalised input; (Z, C, Y, X) for a net of C joint channels (``net.joint_channels``).
    neighbors, include_center
        The neighbour rule the model was trained with.
    options : PredictOptions, optional
        ``tile``, ``overlap``, ``batch``, ``stitch``, ``tta``, ``output_scale`` (``s``) and
        ``precision`` are used; default: built from ``settings``.
    head : callable, optional
        Turns the network output of a batch of windows into the method's output (see :data:`Head`).
    planes : sequence of int, optional
        Only these planes of ``stack`` are predicted (default all), in this order; the others only
        serve as neighbours (chunked prediction passes a slab and keeps its core planes).
    channels_last : bool
        Run the network in the channels-last memory layout.
    progress : bool or callable
        Show a progress bar over planes, or call ``progress(planes_done, planes_total)``.
    **settings
        Options by name when ``options`` is not given, e.g. ``tile=256, stitch="cut"``.

    Returns
    -------
    ndarray, shape (Z', Y*s, X*s) or (C, Z', Y*s, X*s), float32
        ``Z' = len(planes)`` (default Z); C > 1 for a head or net of several output channels.
    """
    if options is None:
        options = PredictOptions(**settings)
    elif settings:
        raise TypeError(f"give options or settings, not both: {sorted(settings)}")
    if options.tta:
        return _predict_tta(net, stack, neighbors, include_center, options, head, planes, channels_last, progress)
    height, width = _plane_size(net, stack)
    targets = list(range(stack.shape[0])) if planes is None else [int(z) for z in planes]
    if not targets:
        return np.zeros((0, height * options.output_scale, width * options.output_scale), dtype=np.float32)
    stitch = STITCHES[options.stitch]
    ys, xs, overlap = _plans(net, options, stitch, height, width)
    batch = options.batch_on(_device(net).type)
    scale = options.output_scale
    _check_memory(net, options, ys, xs, min(batch, len(targets) * len(ys.starts) * len(xs.starts)), head is not None)
    net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)  # type: ignore[call-overload]  # torch's stub lacks memory_format
    net.eval()
    pad_mode = str(getattr(net, "pad_mode", "reflect"))  # a blind-spot net pads with zeros
    windows = _windows(stack, targets, neighbors, include_center, ys, xs, head is not None, pad_mode)
    report, close = _reporter(progress, len(targets))
    with reuse_freed_memory():  # every window allocates the same activations again
        predictions = _forward(net, windows, batch, options.precision, channels_last, head)
        merger = stitch.merger(ys, xs, scale, overlap)
        out = _merge(predictions, merger, (len(targets), height * scale, width * scale), report)
    close()
    return out[0] if out.shape[0] == 1 else out


def _plane_size(net: torch.nn.Module, stack: np.ndarray) -> tuple[int, int]:
    """(Y, X) of the stack's planes, after checking its layout against the network's channels."""
    joint = getattr(net, "joint_channels", 1)
    if joint > 1:  # image channels trained jointly: a (Z, C, Y, X) stack, one output plane per channel
        if stack.ndim != 4 or stack.shape[1] != joint:
            raise Noise2StackError(f"this model denoises {joint} channels jointly; the stack has shape {stack.shape}")
    elif stack.ndim != 3:
        raise Noise2StackError(f"a single-channel model needs a (Z, Y, X) stack, got shape {stack.shape}")
    return stack.shape[-2], stack.shape[-1]


def _check_memory(
    net: torch.nn.Module, options: PredictOptions, ys: AxisPlan, xs: AxisPlan, batch: int, with_head: bool
) -> None:
    """Refuse a tiling whose activations and planes (float32) would not fit in memory."""
    channels = max(getattr(net, "joint_channels", 1), 2 if with_head else 1)
    scale = options.output_scale
    check_memory(
        network_bytes(net, batch, ys.window, xs.window, training=False)
        + 4.0 * (3 + channels * scale * scale) * ys.length * xs.length,  # inputs, weights and outputs of a plane
        f"prediction with `tile` {options.core_tile(_align(net))} `batch` {options.batch_on(_device(net).type)}",
        "`tile` or `batch`",
    )


def _align(net: torch.nn.Module) -> int:
    """The pooling grid of a U-Net (2 ** depth px): tiles and padding are multiples of it."""
    return 2 ** int(net.depth)  # type: ignore[arg-type]  # the nets' own attribute


def _device(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


def _plans(
    net: torch.nn.Module, options: PredictOptions, stitch: Stitch, height: int, width: int
) -> tuple[AxisPlan, AxisPlan, int]:
    """The windows along Y and X of the plane padded to the pooling grid, and the overlap (px)."""
    align, context = _align(net), int(net.context)  # type: ignore[arg-type]  # the nets' own attribute
    tile = options.core_tile(align)
    halo = round_up(context, align)
    overlap = stitch.default_overlap(context, align) if options.overlap is None else options.overlap
    ys = stitch.plan(round_up(height, align), tile, overlap, halo, align)
    xs = stitch.plan(round_up(width, align), tile, overlap, halo, align)
    return ys, xs, overlap


def _windows(
    stack: np.ndarray,
    targets: list[int],
    neighbors: int,
    include_center: bool,
    ys: AxisPlan,
    xs: AxisPlan,
    observe: bool,
    pad_mode: str = "reflect",
) -> Iterator[Window]:
    """The windows of every target plane, plane by plane, Y-major (one plane's inputs alive at a time)."""
    height, width = stack.shape[-2:]
    for z, plane in enumerate(targets):  # z: output position, plane: index in the stack
        inputs = pad_plane(plane_inputs(stack, plane, neighbors, include_center), ys.length, xs.length, pad_mode)
        observed = None
        if observe:  # plane i itself, which a head weighs its samples against
            observed = pad_plane(stack[plane : plane + 1].reshape(-1, height, width), ys.length, xs.length)
        for iy, wy in enumerate(ys.starts):
            for ix, wx in enumerate(xs.starts):
                window = (slice(None), slice(wy, wy + ys.window), slice(wx, wx + xs.window))
                yield Window(z, iy, ix, inputs[window], None if observed is None else observed[window])


def _forward(
    net: torch.nn.Module,
    windows: Iterator[Window],
    batch: int,
    precision: str,
    channels_last: bool,
    head: Head | None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Each window with its prediction (C, h * s, w * s), run ``batch`` windows per forward pass."""
    device = _device(net)
    pending: list[Window] = []
    for window in windows:
        pending.append(window)
        if len(pending) < batch:
            continue
        yield from zip(pending, _run(net, pending, device, precision, channels_last, head))
        pending = []
    if pending:
        yield from zip(pending, _run(net, pending, device, precision, channels_last, head))


def _run(
    net: torch.nn.Module,
    pending: list[Window],
    device: torch.device,
    precision: str,
    channels_last: bool,
    head: Head | None,
) -> np.ndarray:
    """One forward pass over a batch of windows: (B, C, h * s, w * s), float32 on the CPU."""
    x = torch.from_numpy(np.stack([w.inputs for w in pending])).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(device.type, precision):
        y = net(x)
        if head is not None:
            observed = [w.observed for w in pending if w.observed is not None]  # every window has one with a head
            y = head(y, torch.from_numpy(np.stack(observed)).to(device))
        return y.float().cpu().numpy()


def _merge(
    predictions: Iterator[tuple[Window, np.ndarray]],
    merger: Merger,
    shape: tuple[int, int, int],
    report: Callable[[int], None],
) -> np.ndarray:
    """The (C, Z', Y * s, X * s) output from the windows' predictions, plane by plane in order;
    ``shape`` is (Z', Y * s, X * s), C the predictions' channels."""
    out = None
    current = 0
    for window, prediction in predictions:
        if out is None:  # the output's channels are the first prediction's; it outlives the kept heap
            out = unheaped_zeros((prediction.shape[0], *shape))
        while window.z != current:  # a plane is complete once a window of the next arrives
            _store(out, current, merger.finish(), report)
            current += 1
        merger.add(window.iy, window.ix, prediction)
    assert out is not None, "no windows"  # the caller returns early for no planes
    _store(out, current, merger.finish(), report)
    return out


def _store(out: np.ndarray, z: int, plane: np.ndarray, report: Callable[[int], None]) -> None:
    """Output plane ``z`` from its padded merged plane, and the progress reported."""
    out[:, z] = plane[:, : out.shape[-2], : out.shape[-1]]
    report(z + 1)


def _reporter(progress: bool | Progress, total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``report(planes_done)`` and ``close()`` for a bar, a callback or nothing."""
    if callable(progress):
        return (lambda done: progress(done, total)), (lambda: None)
    if not progress:
        return (lambda done: None), (lambda: None)
    bar = tqdm(total=total, unit="plane", desc="denoising")
    return (lambda done: bar.update(done - bar.n)), bar.close


#: The 8 rotations and flips of a (…, Y, X) array: (forward, inverse) pairs.
def _view(k: int, flip: bool) -> Callable[[np.ndarray], np.ndarray]:
    """Mirror X (if ``flip``), then rotate by ``k`` quarter turns in the Y-X plane."""

    def forward(a: np.ndarray) -> np.ndarray:
        return np.rot90(a[..., ::-1] if flip else a, k, axes=(-2, -1))

    return forward


def _undo(k: int, flip: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The inverse of :func:`_view`: rotate back, then mirror back."""

    def inverse(a: np.ndarray) -> np.ndarray:
        turned = np.rot90(a, -k, axes=(-2, -1))
        return turned[..., ::-1] if flip else turned

    return inverse


DIHEDRAL: list[tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = [
    (_view(k, f), _undo(k, f)) for f in (False, True) for k in range(4)
]


def _predict_tta(
    net: torch.nn.Module,
    stack: np.ndarray,
    neighbors: int,
    include_center: bool,
    options: PredictOptions,
    head: Head | None,
    planes: Sequence[int] | None,
    channels_last: bool,
    progress: bool | Progress,
) -> np.ndarray:
    """The mean of the predictions of the 8 rotated and flipped stacks, each transformed back."""
    view_options = options.without_tta()
    total: np.ndarray | None = None
    bar = (
        tqdm(total=len(DIHEDRAL), unit="view", desc="denoising (tta)") if progress and not callable(progress) else None
    )
    for i, (forward, inverse) in enumerate(DIHEDRAL):
        view = np.ascontiguousarray(forward(stack))
        pred = predict_stack(
            net, view, neighbors, include_center, view_options, head=head, planes=planes, channels_last=channels_last
        )
        pred = inverse(pred)
        total = pred.astype(np.float32) if total is None else total + pred
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(int((i + 1) * pred.shape[-3] / len(DIHEDRAL)), pred.shape[-3])
    if bar is not None:
        bar.close()
    assert total is not None  # DIHEDRAL is not empty
    return total / np.float32(len(DIHEDRAL))
