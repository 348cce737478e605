"""Denoise whole stacks plane by plane, splitting large planes into tiles that give the same answer.

Why the result does not depend on the tiling: a U-Net output pixel depends only on input pixels
within ``context`` pixels of it (``net.context``, measured with impulses) and on the alignment of
the max-pooling grid. So each plane is first reflect-padded to a multiple of ``align = 2**depth``
(as the whole-plane pass does), and cut into *cores* (``tile`` pixels, origins on the pooling grid)
that cover it. Each core is predicted from a *window* that adds a halo of ``context`` pixels
(rounded up to the pooling grid) read from the plane itself, and only the core is kept. Where a
window meets the plane's border it sees exactly the border the whole-plane pass sees; elsewhere the
halo holds every pixel the core depends on. The result equals whole-plane prediction to float
rounding for every tile size on the pooling grid, every overlap and every plane size (tested).

All windows have one size (windows near a border are shifted inwards, which only adds context), so
tiles of all planes go through the network in batches without per-tile shape logic. ``overlap``
only sets a linear blending ramp between neighbouring cores; it costs time and changes nothing but
rounding for an exact network, and is kept for networks whose ``context`` is an estimate.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.resources import autocast, check_memory, check_precision, network_bytes, reuse_freed_memory

#: ``head(net_output, observed) -> output``: what a method makes of the network's output for a batch
#: of windows, e.g. an MMSE estimate from samples. ``net_output`` is (B, K, h, w); ``observed`` is
#: (B, 1, h, w), plane ``i`` itself (normalised) over the same window; the result is (B, C, h', w').
Head = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Origins of cores of size ``tile`` covering ``[0, length)``, neighbours overlapping by >= ``overlap``.

    ``length`` and ``tile`` must be multiples of ``align``; every origin is one too.
    """
    if tile >= length:
        return [0]
    stride = (tile - overlap) // align * align
    if stride <= 0:
        raise Noise2StackError(f"--overlap {overlap} leaves no stride for --tile {tile}; lower the overlap")
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_weights(tile: int, start: int, length: int, ramp: int) -> np.ndarray:
    """1-D weights of one core along one axis: a linear ramp over ``ramp`` pixels on sides that face another core.

    Sides at the plane's borders keep weight 1.
    """
    w = np.ones(min(tile, length), dtype=np.float32)
    profile = (np.arange(1, ramp + 1) / (ramp + 1)).astype(np.float32)[: w.size]
    if start > 0 and profile.size:
        w[: profile.size] = np.minimum(w[: profile.size], profile)
    if start + w.size < length and profile.size:
        w[w.size - profile.size :] = np.minimum(w[w.size - profile.size :], profile[::-1])
    return w


def window_start(core_start: int, halo: int, window: int, length: int) -> int:
    """Origin of the window around a core: ``halo`` before it, shifted to stay inside ``[0, length)``."""
    return min(max(core_start - halo, 0), length - window)


def _pad_plane(inputs: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_y, pad_x = height - inputs.shape[-2], width - inputs.shape[-1]
    if not (pad_y or pad_x):
        return inputs
    mode = "reflect" if pad_y < inputs.shape[-2] and pad_x < inputs.shape[-1] else "edge"
    return np.pad(inputs, ((0, 0), (0, pad_y), (0, pad_x)), mode=mode)


def predict_stack(
    net: torch.nn.Module,
    stack: np.ndarray,
    neighbors: int,
    include_center: bool,
    tile: int = 512,
    overlap: int | None = None,
    batch: int | None = None,
    channels_last: bool = True,
    progress: bool | Callable[[int, int], None] = False,
    head: Head | None = None,
    out_channels: int = 1,
    output_scale: int = 1,
    tta: bool = False,
    planes: Sequence[int] | None = None,
    precision: str = "32",
) -> np.ndarray:
    """Denoise every plane of a normalised ``ZYX`` stack.

    Parameters
    ----------
    net : torch.nn.Module
        A network with ``depth`` and ``context`` attributes (see :mod:`noise2stack.nets`).
    stack : ndarray, shape (Z, Y, X), float32
        Normalised input; (Z, C, Y, X) for a net of C joint channels (``net.joint_channels``),
        which gives a (C, Z', Y, X) result.
    neighbors, include_center
        The neighbour rule the model was trained with.
    tile : int
        Core side in pixels (rounded down to a multiple of ``2**depth``); each window adds the
        network's context on every side.
    overlap : int, optional
        Blending ramp between neighbouring cores in pixels (default 0: cores abut; the result is
        exact either way).
    batch : int, optional
        Windows per forward pass; default 1 on CPU (measured fastest, benchmarks/results/predict_speed.md)
        and 8 on a GPU.
    progress : bool or callable
        Show a progress bar over planes, or call ``progress(planes_done, planes_total)``.
    head : callable, optional
        Turns the network output of a batch of windows into the method's output (see :data:`Head`).
    out_channels : int
        Channels the head returns; with more than one the result is (C, Z, Y, X).
    output_scale : int
        Output pixels per input pixel along Y and X (a super-resolving head).
    tta : bool
        Test-time augmentation: the mean over the 8 rotations and flips of each plane, each undone.
    planes : sequence of int, optional
        Only these planes of ``stack`` are predicted (default all), in this order; the others only
        serve as neighbours. Chunked prediction passes a slab with a halo of N/2 planes and keeps
        its core planes (:mod:`noise2stack.predict.chunked`).
    precision : {"32", "bf16", "16"}
        Arithmetic of the forward pass: float32 (default; tiled equals untiled to float rounding), or
        bf16 / fp16 autocast (faster where native, results differ at the 1e-3 level).

    Returns
    -------
    ndarray, shape (Z', Y*s, X*s) or (C, Z', Y*s, X*s), float32
        ``Z' = len(planes)`` (default Z).
    """
    if tta:
        return _predict_tta(
            net,
            stack,
            neighbors,
            include_center,
            tile=tile,
            overlap=overlap,
            batch=batch,
            channels_last=channels_last,
            progress=progress,
            head=head,
            out_channels=out_channels,
            output_scale=output_scale,
            planes=planes,
            precision=precision,
        )
    check_precision(precision)
    align = 2**net.depth
    height, width = stack.shape[-2:]
    joint = getattr(net, "joint_channels", 1)
    if joint > 1:  # image channels trained jointly: a (Z, C, Y, X) stack, one output plane per channel
        if stack.ndim != 4 or stack.shape[1] != joint:
            raise Noise2StackError(f"this model denoises {joint} channels jointly; the stack has shape {stack.shape}")
        out_channels = joint
    elif stack.ndim != 3:
        raise Noise2StackError(f"a single-channel model needs a (Z, Y, X) stack, got shape {stack.shape}")
    targets = list(range(stack.shape[0])) if planes is None else [int(z) for z in planes]
    n_planes = len(targets)
    device = next(net.parameters()).device
    if batch is None:
        batch = 8 if device.type == "cuda" else 1
    tile = tile // align * align
    if tile < align:
        raise Noise2StackError(f"--tile must be at least {align} pixels for this network")
    if batch < 1:
        raise Noise2StackError("--batch must be at least 1")
    overlap = 0 if overlap is None else overlap
    if overlap < 0:
        raise Noise2StackError("--overlap must be >= 0")
    scale = output_scale
    padded_h, padded_w = _round_up(height, align), _round_up(width, align)
    halo = _round_up(net.context, align)
    core_h, core_w = min(tile, padded_h), min(tile, padded_w)
    window_h, window_w = min(core_h + 2 * halo, padded_h), min(core_w + 2 * halo, padded_w)
    ys = tile_starts(padded_h, core_h, overlap, align)
    xs = tile_starts(padded_w, core_w, overlap, align)
    cores = [(y, x) for y in ys for x in xs]
    check_memory(
        network_bytes(net, min(batch, n_planes * len(cores)), window_h, window_w, training=False)
        + 4.0 * (3 + out_channels * scale * scale) * padded_h * padded_w,
        f"prediction with --tile {tile} --batch {batch}",
        "--tile or --batch",
    )
    ramp = overlap * scale
    weights = {
        (y, x): np.outer(
            blend_weights(core_h * scale, y * scale, padded_h * scale, ramp),
            blend_weights(core_w * scale, x * scale, padded_w * scale, ramp),
        )
        for y, x in cores
    }
    weight_sum = np.zeros((padded_h * scale, padded_w * scale), dtype=np.float32)
    for (y, x), w in weights.items():
        weight_sum[y * scale : (y + core_h) * scale, x * scale : (x + core_w) * scale] += w
    single = len(cores) == 1  # the whole plane in one window: no stitching

    net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out = np.zeros((out_channels, n_planes, height * scale, width * scale), dtype=np.float32)

    def jobs() -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray]]:
        for z, plane in enumerate(targets):  # z: output position, plane: index in the stack
            inputs = _pad_plane(plane_inputs(stack, plane, neighbors, include_center), padded_h, padded_w)
            observed = _pad_plane(stack[plane : plane + 1].reshape(-1, height, width), padded_h, padded_w)
            for y, x in cores:
                wy = window_start(y, halo, window_h, padded_h)
                wx = window_start(x, halo, window_w, padded_w)
                yield (
                    z,
                    y,
                    x,
                    inputs[:, wy : wy + window_h, wx : wx + window_w],
                    observed[:, wy : wy + window_h, wx : wx + window_w],
                )

    report: Callable[[int], None] | None = None
    bar = None
    if callable(progress):
        report = lambda done: progress(done, n_planes)  # noqa: E731
    elif progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_planes, unit="plane", desc="denoising")
        report = lambda done: bar.update(done - bar.n)  # noqa: E731
    accumulator = np.zeros((out_channels, padded_h * scale, padded_w * scale), dtype=np.float32)
    current = 0
    pending: list = []

    def finish_plane(z: int, plane: np.ndarray) -> None:
        out[:, z] = plane[:, : height * scale, : width * scale]
        if report is not None:
            report(z + 1)

    def flush() -> None:
        nonlocal current
        x_batch = torch.from_numpy(np.stack([p[3] for p in pending])).to(device)
        if channels_last:
            x_batch = x_batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(device.type, precision):
            y_batch = net(x_batch)
            if head is not None:
                y_batch = head(y_batch, torch.from_numpy(np.stack([p[4] for p in pending])).to(device))
            y_batch = y_batch.float().cpu().numpy()
        for (z, y, x, _, _), pred in zip(pending, y_batch):
            if single:
                finish_plane(z, pred)
                continue
            while z != current:  # a plane is complete once a window of the next arrives
                finish_plane(current, accumulator / weight_sum)
                accumulator[:] = 0
                current += 1
            wy = window_start(y, halo, window_h, padded_h)
            wx = window_start(x, halo, window_w, padded_w)
            oy, ox = (y - wy) * scale, (x - wx) * scale
            core = pred[:, oy : oy + core_h * scale, ox : ox + core_w * scale]
            accumulator[:, y * scale : (y + core_h) * scale, x * scale : (x + core_w) * scale] += weights[(y, x)] * core
        pending.clear()

    net.eval()
    with reuse_freed_memory():  # every window allocates the same activations again
        for job in jobs():
            pending.append(job)
            if len(pending) == batch:
                flush()
        if pending:
            flush()
    if not single:
        finish_plane(current, accumulator / weight_sum)
    if bar is not None:
        bar.close()
    return out[0] if out_channels == 1 else out


#: The 8 rotations and flips of a (…, Y, X) array: (forward, inverse) pairs.
DIHEDRAL: list[tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = [
    (
        lambda a, k=k, f=f: np.rot90(a[..., ::-1] if f else a, k, axes=(-2, -1)),
        lambda a, k=k, f=f: (lambda r: r[..., ::-1] if f else r)(np.rot90(a, -k, axes=(-2, -1))),
    )
    for f in (False, True)
    for k in range(4)
]


def _predict_tta(net, stack, neighbors, include_center, progress, out_channels, **kwargs) -> np.ndarray:
    """The mean of the predictions of the 8 rotated and flipped stacks, each transformed back."""
    total = None
    bar = None
    if progress and not callable(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(DIHEDRAL), unit="view", desc="denoising (tta)")
    for i, (forward, inverse) in enumerate(DIHEDRAL):
        view = np.ascontiguousarray(forward(stack))
        pred = predict_stack(net, view, neighbors, include_center, out_channels=out_channels, **kwargs)
        pred = inverse(pred)
        total = pred.astype(np.float32) if total is None else total + pred
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(int((i + 1) * pred.shape[-3] / len(DIHEDRAL)), pred.shape[-3])
    if bar is not None:
        bar.close()
    return total / len(DIHEDRAL)
