"""Tiled prediction that cuts the overlaps instead of blending them (paper 003 §2.2.3).

NRRN's authors denoise large planes in 256 px patches with a 20 px overlap, and "in contrast to
weighting the overlapping values, we cut them out". Here: tiles of side ``tile`` (rounded down to
the pooling grid ``2**depth``) start at the origins of :func:`noise2stack.predict.tiling.tile_starts`
(stride ``tile - overlap`` on the grid, the last tile flush with the padded plane's end), and
every output pixel is taken from exactly one tile: along each axis, two consecutive tiles starting
at ``a < b`` share ``[b, a + tile)``, and the cut is at ``m = (a + tile + b) // 2``: the first tile
keeps everything before ``m``, the second everything from ``m``. The plane's own borders are kept
from the tile that touches them. A kept pixel lies at least ``floor(overlap / 2)`` pixels from the
side of its tile that faces another tile, so with ``overlap >= 2 * context`` (the default, rounded
up to the grid) the result equals the whole-plane prediction to float rounding; with the paper's
20 px and a larger ``context`` it does not, and seams may show.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.predict.tiling import _pad_plane, _round_up, tile_starts
from noise2stack.resources import autocast, check_memory, network_bytes, reuse_freed_memory


def cut_bounds(starts: list[int], tile: int, length: int) -> list[tuple[int, int]]:
    """The ``[from, to)`` range each tile keeps along one axis; the ranges partition ``[0, length)``."""
    cuts = [(a + tile + b) // 2 for a, b in zip(starts[:-1], starts[1:])]
    return list(zip([0] + cuts, cuts + [length]))


def predict_stack_cut(
    net: torch.nn.Module,
    stack: np.ndarray,
    neighbors: int,
    include_center: bool,
    tile: int = 512,
    overlap: int | None = None,
    batch: int | None = None,
    channels_last: bool = True,
    progress: bool | Callable[[int, int], None] = False,
    precision: str = "32",
) -> np.ndarray:
    """Denoise every plane of a normalised ``ZYX`` stack, tiles joined by cutting (module docstring).

    Same parameters and result as :func:`noise2stack.predict.tiling.predict_stack`; ``overlap``
    defaults to ``2 * net.context`` rounded up to the pooling grid. ``progress``: a bar over tiles,
    or ``progress(planes_done, planes_total)`` called as planes complete (the batch-job logs).
    """
    align = 2**net.depth
    n_planes, height, width = stack.shape
    device = next(net.parameters()).device
    batch = batch or (8 if device.type == "cuda" else 1)
    tile = tile // align * align
    if tile < align:
        raise Noise2StackError(f"--tile must be at least {align} pixels for this network")
    overlap = _round_up(2 * net.context, align) if overlap is None else overlap
    if overlap < 0:
        raise Noise2StackError("--overlap must be >= 0")
    padded_h, padded_w = _round_up(height, align), _round_up(width, align)
    tile_h, tile_w = min(tile, padded_h), min(tile, padded_w)
    ys, xs = tile_starts(padded_h, tile_h, overlap, align), tile_starts(padded_w, tile_w, overlap, align)
    keep_y, keep_x = cut_bounds(ys, tile_h, padded_h), cut_bounds(xs, tile_w, padded_w)
    check_memory(
        network_bytes(net, batch, tile_h, tile_w, training=False) + 8.0 * padded_h * padded_w,
        f"prediction with --tile {tile} --batch {batch}",
        "--tile or --batch",
    )
    net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format).eval()
    out = np.zeros((n_planes, padded_h, padded_w), dtype=np.float32)
    jobs = [(z, iy, ix) for z in range(n_planes) for iy in range(len(ys)) for ix in range(len(xs))]
    bar = None
    if progress and not callable(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), unit="tile", desc="denoising")
    padded_planes: dict[int, np.ndarray] = {}
    with reuse_freed_memory():  # every tile allocates the same activations again
        for first in range(0, len(jobs), batch):
            group = jobs[first : first + batch]
            tiles = []
            for z, iy, ix in group:
                if z not in padded_planes:
                    padded_planes.clear()  # one plane's inputs alive at a time
                    padded_planes[z] = _pad_plane(plane_inputs(stack, z, neighbors, include_center), padded_h, padded_w)
                tiles.append(padded_planes[z][:, ys[iy] : ys[iy] + tile_h, xs[ix] : xs[ix] + tile_w])
            x_batch = torch.from_numpy(np.ascontiguousarray(np.stack(tiles))).to(device)
            if channels_last:
                x_batch = x_batch.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), autocast(device.type, precision):
                predictions = net(x_batch).float().cpu().numpy()[:, 0]
            for (z, iy, ix), pred in zip(group, predictions):
                (y0, y1), (x0, x1) = keep_y[iy], keep_x[ix]
                out[z, y0:y1, x0:x1] = pred[y0 - ys[iy] : y1 - ys[iy], x0 - xs[ix] : x1 - xs[ix]]
            if bar is not None:
                bar.update(len(group))
            elif callable(progress):  # planes whose tiles are all done
                progress((first + len(group)) // (len(ys) * len(xs)), n_planes)
    if bar is not None:
        bar.close()
    return out[:, :height, :width]
