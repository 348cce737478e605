"""Denoise whole stacks plane by plane, splitting large planes into overlapping tiles.

Why the result does not depend on the tiling: a U-Net output pixel depends only on input pixels
within ``context`` pixels of it (``net.context``), and on the alignment of the max-pooling grid.
So the plane is first reflect-padded to a multiple of ``2**depth``, tile origins are multiples of
``2**depth``, and along every tile side that faces another tile the outermost ``discard`` pixels
(contaminated by the tile border's zero padding) get weight 0, then the weight ramps linearly to
1 over ``ramp`` pixels; tiles are summed with these weights and divided by the summed weights.
With ``overlap >= 2 * context + ramp`` every pixel of nonzero weight equals the whole-plane result,
so tiled and untiled predictions agree to float rounding; with a smaller overlap the linear ramp
still hides the seam. The default overlap is ``2 * context + 16`` rounded up to the pooling grid
(64 px for the Table S1 net), capped at half the tile: tiling is exact for tiles of at least twice
that (128 px for the Table S1 net, 704 px for the Table S2 net).
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.resources import check_memory, network_bytes


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def default_overlap(context: int, align: int, tile: int) -> int:
    """Overlap that makes tiling exact: room to discard ``context`` pixels on both sides plus a ramp."""
    return min(_round_up(2 * context + 16, align), max(align, (tile // 2) // align * align))


def split_overlap(overlap: int, context: int) -> tuple[int, int]:
    """(discard, ramp) widths for a given overlap: discard as much as the context needs, keep a ramp."""
    discard = min(context, max(0, (overlap - overlap // 4) // 2))
    return discard, overlap - 2 * discard


def tile_starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Origins of tiles of size ``tile`` covering ``[0, length)`` with at least ``overlap`` overlap.

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


def blend_weights(tile: int, start: int, length: int, discard: int, ramp: int) -> np.ndarray:
    """1-D weights of one tile along one axis: 0 over ``discard``, linear over ``ramp``, then 1.

    Sides at the plane's borders keep weight 1 (there the whole-plane pass sees the same border).
    """
    w = np.ones(min(tile, length), dtype=np.float32)
    n = w.size
    profile = np.concatenate([np.zeros(discard), np.arange(1, ramp + 1) / (ramp + 1)]).astype(np.float32)
    profile = profile[:n]
    if start > 0:
        w[: profile.size] = np.minimum(w[: profile.size], profile)
    if start + n < length:
        w[n - profile.size :] = np.minimum(w[n - profile.size :], profile[::-1])
    return w


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
    progress: bool = False,
    finish: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Denoise every plane of a normalised ``ZYX`` stack.

    Parameters
    ----------
    net : torch.nn.Module
        A network with ``depth`` and ``context`` attributes (see :mod:`noise2stack.nets`).
    stack : ndarray, shape (Z, Y, X), float32
        Normalised input.
    neighbors, include_center
        The neighbour rule the model was trained with.
    tile : int
        Largest tile side in pixels (rounded down to a multiple of ``2**depth``).
    overlap : int, optional
        Tile overlap in pixels; default: enough for an exact result (see module docstring).
    batch : int, optional
        Tiles per forward pass; default 1 on CPU (measured fastest, benchmarks/results/predict_speed.md)
        and 8 on a GPU.
    progress : bool
        Show a progress bar over planes.
    finish : callable, optional
        ``finish(net_output, observation) -> outputs``: maps a tile batch's network output
        (B, K, h, w) and the same tiles of the observed plane ``stack[z]`` (B, h, w) to M output
        planes (B, M, h, w), blended like a plain prediction (the probabilistic methods: MMSE
        estimate and posterior std). The observed plane need not be a network input.

    Returns
    -------
    ndarray, shape (Z, Y, X), float32
        Or shape (M, Z, Y, X) with ``finish``.
    """
    align = 2**net.depth
    n_planes, height, width = stack.shape
    device = next(net.parameters()).device
    if batch is None:
        batch = 8 if device.type == "cuda" else 1
    tile = tile // align * align
    if tile < align:
        raise Noise2StackError(f"--tile must be at least {align} pixels for this network")
    if batch < 1:
        raise Noise2StackError("--batch must be at least 1")
    if overlap is None:
        overlap = default_overlap(net.context, align, tile)
    if overlap < 0:
        raise Noise2StackError("--overlap must be >= 0")
    padded_h, padded_w = _round_up(height, align), _round_up(width, align)
    tile_h, tile_w = min(tile, padded_h), min(tile, padded_w)
    discard, ramp = split_overlap(overlap, net.context)
    ys = tile_starts(padded_h, tile_h, overlap, align)
    xs = tile_starts(padded_w, tile_w, overlap, align)
    windows = [(y, x) for y in ys for x in xs]
    check_memory(
        network_bytes(net, min(batch, n_planes * len(windows)), tile_h, tile_w, training=False) + 12.0 * padded_h * padded_w,
        f"prediction with --tile {tile} --batch {batch}",
        "--tile or --batch",
    )
    weights = {
        (y, x): np.outer(blend_weights(tile_h, y, padded_h, discard, ramp), blend_weights(tile_w, x, padded_w, discard, ramp))
        for y, x in windows
    }
    weight_sum = np.zeros((padded_h, padded_w), dtype=np.float32)
    for (y, x), w in weights.items():
        weight_sum[y : y + tile_h, x : x + tile_w] += w

    net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    single = len(windows) == 1  # a whole plane in one tile: no blending needed
    n_out = 1
    if finish is not None:  # ask the hook how many planes it makes, on a tiny dummy tile
        with torch.inference_mode():
            dummy = torch.zeros(1, net.out_channels, align, align, device=device)
            n_out = finish(dummy, torch.zeros(1, align, align, device=device)).shape[1]
    out = np.zeros((n_out, n_planes, height, width), dtype=np.float32)

    def jobs() -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray | None]]:
        for z in range(n_planes):
            inputs = _pad_plane(plane_inputs(stack, z, neighbors, include_center), padded_h, padded_w)
            observed = _pad_plane(stack[z : z + 1], padded_h, padded_w)[0] if finish is not None else None
            for y, x in windows:
                tile_obs = observed[y : y + tile_h, x : x + tile_w] if observed is not None else None
                yield z, y, x, inputs[:, y : y + tile_h, x : x + tile_w], tile_obs

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_planes, unit="plane", desc="denoising")
    accumulator = np.zeros((n_out, padded_h, padded_w), dtype=np.float32)
    current = 0
    pending: list = []

    def flush() -> None:
        nonlocal current, accumulator
        x_batch = torch.from_numpy(np.stack([p[3] for p in pending])).to(device)
        if channels_last:
            x_batch = x_batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y_batch = net(x_batch).float()
            if finish is not None:
                y_batch = finish(y_batch, torch.from_numpy(np.stack([p[4] for p in pending])).to(device))
            y_batch = y_batch.float().cpu().numpy()[:, :n_out]
        for (z, y, x, _, _), pred in zip(pending, y_batch):
            if single:
                out[:, z] = pred[:, :height, :width]
                if bar is not None:
                    bar.update(1)
                continue
            while z != current:  # a plane is complete once a tile of the next arrives
                out[:, current] = (accumulator / weight_sum)[:, :height, :width]
                accumulator = np.zeros_like(accumulator)
                current += 1
                if bar is not None:
                    bar.update(1)
            accumulator[:, y : y + tile_h, x : x + tile_w] += weights[(y, x)] * pred
        pending.clear()

    net.eval()
    for job in jobs():
        pending.append(job)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    if not single:
        out[:, current] = (accumulator / weight_sum)[:, :height, :width]
    if bar is not None:
        bar.update(n_planes - bar.n)
        bar.close()
    return out if finish is not None else out[0]
