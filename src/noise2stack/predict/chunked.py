"""Chunked, resumable, optionally distributed prediction of volumes of any size and axes (Dask).

The volume (any of ``TCZYX``, see :mod:`noise2stack.io.zarr_io`) is cut into *blocks*: one index
along every loop axis (T or C, whichever is not the stack axis) and ``chunk_planes`` planes along the
stack axis, whole planes in Y and X. A block is predicted from a *slab* that adds ``N/2`` planes on
each side (clipped at the volume's ends) and keeps only its own planes (the same engine as in-memory
prediction, :func:`noise2stack.predict.engine.denoise` with ``planes=``). Inside the slab every kept plane
has the neighbours it has in the whole volume; where the slab is clipped the slab's end *is* the
volume's end, so the end-of-stack rule of :mod:`noise2stack.data.sampler` picks the same planes
(tested exhaustively in tests/predict/test_chunked.py). In Y and X the tiler reads each tile's
context from the plane, so the result equals in-memory prediction exactly.

Each block is one Dask task: it opens the input and the model itself (the model once per process,
cached by its weights' SHA-256), writes its planes to the output store's array ``0`` (whose chunks
never straddle two blocks) and then marks itself done in the store's ``noise2stack_done`` array
(one chunk per block, so concurrent writers never touch the same file). Peak memory is a few
slabs, independent of the volume's size.

The output is OME-Zarr with the input's axes, voxel sizes and units. NGFF requires the axes in the
order t, c, z, y, x; an input in another order (e.g. ``ZCYX`` from a TIFF) is written in that order
(``CZYX``), the only case where the output's axis order differs from the input's.

Resuming: the output group's ``noise2stack`` attribute records the model, the input and the
settings. Run again with the same command, only blocks not marked done are predicted. A store that
is complete, or was started with another model, input or setting, is refused without
``--overwrite``. When all blocks are done the optional pyramid is written, the done-array removed
and the record marked complete.

Several GPUs (``devices``): the blocks along the stack axis are split into as many contiguous
ranges as there are devices (for every T/C index alike), so each device predicts its own Z ranges
and keeps its slabs' halos to itself; each device holds its own copy of the model. The blocks of one
device form a chain of Dask tasks (each waits for the previous one), so a device never runs two
blocks at once and the local scheduler runs one thread per device.

In the terms of the tiler (:mod:`noise2stack.predict.tiling`) this module is the merger and writer
one level up: blocks are split along the stack axis instead of windows in Y and X, and each block's
planes are written into the store instead of an array. All options arrive validated in one
:class:`~noise2stack.predict.options.PredictOptions`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import dask
import dask.array as da
import numpy as np
import torch
import zarr
from dask.callbacks import Callback
from tqdm.auto import tqdm

from noise2stack.data.sampler import min_planes
from noise2stack.errors import Noise2StackError
from noise2stack.io.zarr_io import (
    IMAGE_ARRAY,
    VolumeSpec,
    create_ome_zarr,
    inspect_volume,
    is_zarr_path,
    ngff_order,
    open_array,
    write_pyramid,
)
from noise2stack.model import Model, package_version
from noise2stack.predict.engine import Request, check_model, denoise, methods_that, model_folders
from noise2stack.predict.options import LOCAL_SCHEDULERS, PredictOptions
from noise2stack.resources import check_memory

RUN_ATTRIBUTE = "noise2stack"
DONE_ARRAY = "noise2stack_done"
RECORD_FORMAT = 1
#: Output chunk side in Y and X (pixels): small enough for viewers, large enough for few files.
STORE_TILE = 1024

Progress = Callable[[int, int], None]


def resolve_devices(devices: int | Sequence[str] | None) -> tuple:
    """Torch device names for ``devices`` (validated by :class:`PredictOptions`): a count of GPUs
    (``cuda:0`` ...), or names as given. ``None`` or 1: ``()``, the model's own device (the CPU, as loaded).
    """
    if devices is None or devices == 1:
        return ()
    if not isinstance(devices, int):
        return tuple(str(d) for d in devices)
    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if found < devices:
        raise Noise2StackError(
            f"`devices` {devices} spreads the chunks over {devices} GPUs, but this machine has {found}; "
            "use `jobs` for several chunks at once on the CPU"
        )
    return tuple(f"cuda:{i}" for i in range(devices))


def assign_devices(blocks: Sequence[Block], n_devices: int) -> list[int]:
    """The device index of every block: the blocks of each loop index along the stack axis are
    split into ``n_devices`` contiguous ranges of (nearly) equal length, in order."""
    per_loop: dict = {}
    for b in blocks:
        per_loop.setdefault(b.loop, []).append(b)
    device = {}
    for group in per_loop.values():
        group = sorted(group, key=lambda b: b.start)
        for j, b in enumerate(group):
            device[b.number] = j * n_devices // len(group)
    return [device[b.number] for b in blocks]


@dataclass(frozen=True)
class Block:
    """One task: ``loop`` indexes the loop axes, ``[start, stop)`` the stack axis."""

    number: int
    loop: tuple
    start: int
    stop: int


@dataclass(frozen=True)
class ModelRef:
    """Model folder(s) and the SHA-256 of their weights: one model, or one per channel."""

    folders: tuple
    checksums: tuple

    def for_channel(self, channel: int) -> tuple[str, str]:
        i = channel if len(self.folders) > 1 else 0
        return self.folders[i], self.checksums[i]


_MODELS: dict = {}
_MODELS_LOCK = threading.Lock()
#: How many times this process loaded a model from disk (tests check that workers load once).
MODEL_LOADS = {"count": 0}


def cached_model(folder: str, checksum: str, device: str | None = None):
    """The model in ``folder``, loaded once per process and key (folder, weights SHA-256, device)."""
    key = (folder, checksum, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            model = Model.load(folder)
            if model.checksum() != checksum:
                raise Noise2StackError(f"the model in {folder} changed while predicting; start again")
            # Once here, not per block: threads sharing the network must not convert it concurrently.
            if device is not None:
                model.net.to(torch.device(device))
            model.net.to(memory_format=torch.channels_last if model.channels_last else torch.contiguous_format)  # type: ignore[call-overload]  # torch's stub lacks memory_format
            _MODELS[key] = model
            MODEL_LOADS["count"] += 1
        return _MODELS[key]


def resolve_stack_axis(spec: VolumeSpec, stack_axis: str | None) -> str:
    """The neighbour axis: ``stack_axis`` (Z or T, as :class:`PredictOptions` validates it) if given,
    else Z when present, else T."""
    if stack_axis is None:
        for letter in "ZT":
            if letter in spec.axes:
                return letter
        raise Noise2StackError(f"{spec.path} (axes {spec.axes}) has no Z or T axis to take neighbouring planes along")
    letter = stack_axis.upper()
    if letter not in spec.axes:
        raise Noise2StackError(f"`stack_axis` {letter} is not an axis of {spec.path} (axes {spec.axes})")
    return letter


def loop_axes(spec: VolumeSpec, stack_axis: str, joint: bool = False) -> str:
    """Axes looped over: all but the stack axis, Y and X (and C for joint channels), in file order."""
    skip = (stack_axis, "Y", "X", "C") if joint else (stack_axis, "Y", "X")
    return "".join(a for a in spec.axes if a not in skip)


def plan_blocks(spec: VolumeSpec, stack_axis: str, chunk_planes: int, joint: bool = False) -> list[Block]:
    """All blocks of the volume, in file order of the loop axes, then along the stack axis."""
    loops = loop_axes(spec, stack_axis, joint)
    n = spec.size(stack_axis)
    blocks: list[Block] = []
    for loop in np.ndindex(*[spec.size(a) for a in loops]):
        for start in range(0, n, chunk_planes):
            blocks.append(Block(len(blocks), tuple(int(i) for i in loop), start, min(start + chunk_planes, n)))
    return blocks


def slab_range(start: int, stop: int, n_planes: int, neighbors: int) -> tuple[int, int]:
    """Planes ``[lo, hi)`` to read for block ``[start, stop)``: ``N/2`` more on each side, clipped."""
    half = neighbors // 2
    return max(0, start - half), min(n_planes, stop + half)


def _selection(axes: str, loops: str, stack_axis: str, block: Block, lo: int, hi: int) -> tuple[tuple, list[int]]:
    """Index of the slab in ``axes`` order, and the transpose that makes it (S, Y, X), or (S, C, Y, X)
    when C is not looped over (joint channels)."""
    index, kept = [], []
    for a in axes:
        if a in loops:
            index.append(block.loop[loops.index(a)])
        elif a == stack_axis:
            index.append(slice(lo, hi))
            kept.append(a)
        else:
            index.append(slice(None))
            kept.append(a)
    order = (stack_axis, "C", "Y", "X") if "C" in kept else (stack_axis, "Y", "X")
    return tuple(index), [kept.index(a) for a in order]


def predict_block(
    model_ref: ModelRef,
    spec: VolumeSpec,
    out: str,
    block: Block,
    options: PredictOptions,
    device: str | None = None,
    after=None,
) -> int:
    """Predict one block on ``device`` (default: the model's), write it to ``out`` and mark it done;
    returns the voxels written. ``options`` has ``stack_axis`` and ``channels`` resolved (see
    :func:`predict_volume`); ``after`` (ignored) is the previous task of the same device."""
    joint = options.channels == "joint"
    stack_axis = options.stack_axis
    assert stack_axis is not None  # resolved by predict_volume
    loops = loop_axes(spec, stack_axis, joint)
    channel = block.loop[loops.index("C")] if "C" in loops else 0
    model = cached_model(*model_ref.for_channel(channel), device)
    lo, hi = slab_range(block.start, block.stop, spec.size(stack_axis), model.neighbors)
    index, order = _selection(spec.axes, loops, stack_axis, block, lo, hi)
    read = read_slab(open_array(spec), index, spec.axes.index(stack_axis), spec.axes.index("Y"))
    # a Zarr read is a fresh array of ours; a memory-mapped .npy is the input file itself
    owned = type(read) is np.ndarray and read.flags.writeable and not isinstance(read.base, np.memmap)
    slab = np.transpose(np.asarray(read), order)
    del read
    if slab.dtype.kind == "f" and not np.isfinite(slab).all():
        raise Noise2StackError(
            f"{spec.path} contains NaN or Inf values (planes {lo}-{hi - 1}); replace them before denoising"
        )
    # (S, Y, X), or (S, C, Y, X) for joint channels, as the selection takes it; the slab is ours, so
    # it is normalised in place and only one copy of it is alive while the network runs
    planes = range(block.start - lo, block.stop - lo)
    result = denoise(model, slab, options, planes=planes, owned=owned).estimate
    del slab
    out_index, out_order = _selection(ngff_order(spec.axes), loops, stack_axis, block, block.start, block.stop)
    target = zarr.open_array(str(Path(out) / IMAGE_ARRAY), mode="r+")
    target[out_index] = np.transpose(result, np.argsort(out_order))
    # The record comes after the data: a block killed between the two is simply predicted again.
    zarr.open_array(str(Path(out) / DONE_ARRAY), mode="r+")[block.number] = 1
    return int(result.size)


def read_slab(array, index: tuple, *split_axes: int) -> np.ndarray:
    """``array[index]``, read one box of input chunks along ``split_axes`` at a time.

    Zarr decodes every chunk a read touches, up to ``async.concurrency`` of them at once, before it
    copies the selection out: a slab read in one piece can hold ten chunks of tens of MiB each. Read
    box by box (a row of chunks along the remaining axes each), at most one row is decoded at a time.
    Arrays without chunks (a memory-mapped ``.npy``) are read as they are.
    """
    chunks = getattr(array, "chunks", None)
    if not chunks or len(chunks) != len(index):
        return array[index]
    bounds: list[tuple[int, int] | None] = [
        item.indices(size)[:2] if isinstance(item, slice) else None for item, size in zip(index, array.shape)
    ]
    pieces = []
    for axis, (item, chunk) in enumerate(zip(index, chunks)):
        bound = bounds[axis]
        if bound is None:
            pieces.append([item])
            continue
        start, stop = bound
        if axis not in split_axes:
            pieces.append([slice(start, stop)])
            continue
        edges = [start, *range((start // chunk + 1) * chunk, stop, chunk), stop]
        pieces.append([slice(a, b) for a, b in zip(edges[:-1], edges[1:])])
    if all(len(p) == 1 for p in pieces):
        return array[index]
    starts = {axis: b[0] for axis, b in enumerate(bounds) if b is not None}
    out = np.empty([b[1] - b[0] for b in bounds if b is not None], dtype=array.dtype)
    for box in itertools.product(*pieces):  # the box's place in the slab: offsets from its start
        out[tuple(slice(box[a].start - start, box[a].stop - start) for a, start in starts.items())] = array[box]
    return out


def _record(model_ref: ModelRef, spec: VolumeSpec, options: PredictOptions) -> dict:
    """What the store records of its run; a resumed run must record the same (all but ``complete``)."""
    return {
        "format": RECORD_FORMAT,
        "noise2stack": package_version(),
        "model_sha256": list(model_ref.checksums),
        "input": spec.fingerprint(),
        "settings": options.record(),
        "complete": False,
    }


def _existing_record(out: Path) -> dict | None:
    try:
        group = zarr.open_group(str(out), mode="r")
    except Exception:
        return None
    record = group.attrs.get(RUN_ATTRIBUTE)
    return record if isinstance(record, dict) else None


def check_output_store(out: Path, record: dict, overwrite: bool) -> str:
    """Decide what to do with ``out``: ``"create"``, ``"resume"`` or ``"replace"``; refuse otherwise."""
    if not out.exists():
        if not out.parent.is_dir():
            raise Noise2StackError(f"output folder does not exist: {out.parent}")
        return "create"
    existing = _existing_record(out)
    if overwrite:
        if existing is None and not is_zarr_path(out) or out.is_file():
            raise Noise2StackError(f"{out} exists and is not a Zarr store; remove it yourself or choose another output")
        if existing is None and any(out.iterdir()) and not (out / "zarr.json").is_file():
            raise Noise2StackError(f"{out} exists and is not a Zarr store; remove it yourself or choose another output")
        return "replace"
    if existing is None:
        raise Noise2StackError(
            f"{out} exists and is not an unfinished noise2stack prediction; pass `overwrite` to replace it"
        )
    if existing.get("complete"):
        raise Noise2StackError(f"{out} holds a finished prediction; pass `overwrite` to replace it")
    differs = [k for k in ("model_sha256", "input", "settings") if existing.get(k) != record[k]]
    if differs:
        names = {"model_sha256": "model", "input": "input", "settings": "settings"}
        raise Noise2StackError(
            f"{out} was started with another {', '.join(names[d] for d in differs)}; "
            "pass `overwrite` to replace it, or run the command that started it to resume"
        )
    return "resume"


def _connect(address: str, timeout: float):
    """A Dask client of the scheduler at ``address``, after checking that one answers there.

    A Client built on an address where something else answers fails half-way and, when collected,
    waits 10 s and prints a traceback; asking the scheduler's identity first fails cleanly.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise Noise2StackError("`scheduler` ADDRESS needs the 'distributed' package") from None
    kind = _scheduler_identity(address, timeout)
    if kind != "Scheduler":
        raise Noise2StackError(f"{address} answers, but not as a Dask scheduler ({kind}); check the address and port")
    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        return Client(address, timeout=f"{timeout}s", set_as_default=False)


def _scheduler_identity(address: str, timeout: float) -> str:
    """What answers Dask's ``identity`` request at ``address``: "Scheduler", or why nothing does (one line)."""
    from distributed.comm import connect

    async def ask() -> str:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            answer = await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()
        return str(answer.get("type")) if isinstance(answer, dict) else type(answer).__name__

    try:  # in a thread of its own, so that a caller's running event loop (Jupyter) is no obstacle
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, ask()).result()
    except (OSError, TimeoutError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Noise2StackError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({first[:120]})"
        ) from None
    except Exception as exc:  # whatever a stranger's bytes make of Dask's decoder: MemoryError for a
        return type(exc).__name__  # first frame length of petabytes, a decoding error for others


class ChunkProgress:
    """Chunk progress with throughput (MVox/s) and time left: a tqdm bar, or ``callback(done, total)``."""

    def __init__(self, total: int, voxels_per_block: float, progress: bool | Progress) -> None:
        self.total, self.done, self.voxels, self.start = total, 0, 0.0, time.perf_counter()
        self.voxels_per_block = voxels_per_block
        self.callback = progress if callable(progress) else None
        self.bar = None
        self.lock = threading.Lock()
        if progress is True and total:
            self.bar = tqdm(total=total, unit="chunk", desc="denoising chunks")

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            self.voxels += self.voxels_per_block
            if self.bar is not None:
                rate = self.voxels / max(time.perf_counter() - self.start, 1e-9) / 1e6
                self.bar.set_postfix_str(f"{rate:.2f} MVox/s", refresh=False)
                self.bar.update(1)
            if self.callback is not None:
                self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_blocks(tasks: list, keys: list[str], scheduler: str, jobs: int, progress: ChunkProgress, client=None) -> None:
    """Compute the delayed ``tasks`` on a local scheduler or a distributed ``client``, ticking ``progress``."""
    if client is not None:
        from distributed import as_completed

        with client.as_current():
            futures = client.compute(tasks)
            try:
                for future in as_completed(futures):
                    future.result()  # re-raises a worker's error here
                    progress.tick()
            finally:
                client.cancel(futures)
        return
    wanted = set(keys)

    class _Tick(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):  # noqa: D401 - dask's hook
            if key in wanted:
                progress.tick()

    with _Tick():
        dask.compute(*tasks, scheduler=scheduler, num_workers=jobs if scheduler != "synchronous" else None)


def is_chunked(noisy, out) -> bool:
    """Whether a prediction of ``noisy`` into ``out`` runs chunk by chunk: a Zarr input or output."""
    return not isinstance(noisy, np.ndarray) and (is_zarr_path(noisy) or (out is not None and is_zarr_path(out)))


def check_request(out, request: Request) -> None:
    """Refuse outputs a chunked prediction cannot write: it needs an OME-Zarr output, and what needs
    the whole stack in memory (k-space post-processing, uncertainty, building units) is not written."""
    if out is None:
        raise Noise2StackError("a Zarr input is predicted chunk by chunk into a Zarr output: give OUT.zarr")
    given = {"`kspace`": request.kspace, "`uncertainty`": request.uncertainty, "`save_units`": request.units}
    for name, value in given.items():
        if value:
            raise Noise2StackError(f"{name} needs the whole stack in memory; write a TIFF or .npy output instead")


def predict_path(
    model: str | os.PathLike,
    noisy: str | os.PathLike,
    out: str | os.PathLike,
    axes: str | None,
    options: PredictOptions,
    overwrite: bool = False,
    progress: bool | Progress = True,
) -> da.Array:
    """Denoise the volume in ``noisy`` (axes ``axes``, else from the file) with the model folder
    ``model`` (or its per-channel sub-folders) into the store ``out``; returns the output's
    full-resolution level as a lazy Dask array (see :func:`predict_volume`)."""
    spec = inspect_volume(noisy, axes)
    store = predict_volume(model_folders(model), spec, out, options, overwrite=overwrite, progress=progress)
    return da.from_zarr(zarr.open_array(str(Path(store) / IMAGE_ARRAY), mode="r"))


def predict_volume(
    models: Sequence[str | Path],
    spec: VolumeSpec,
    out: str | os.PathLike,
    options: PredictOptions | None = None,
    overwrite: bool = False,
    progress: bool | Progress = True,
    connect_timeout: float = 5.0,
    **settings,
) -> Path:
    """Denoise a volume chunk by chunk into an OME-Zarr store; see the module docstring.

    Parameters
    ----------
    models : sequence of path
        One model folder, or one per channel (``channels="separate"`` with a C axis).
    spec : VolumeSpec
        The input (:func:`noise2stack.io.zarr_io.inspect_volume`).
    out : path
        Output ``.zarr`` store (OME-Zarr 0.5), float32, the input's axes, voxel sizes and units.
    options : PredictOptions, optional
        Tiling as in memory, and ``stack_axis``, ``chunk_planes`` (memory grows with it and with
        ``jobs``), ``scheduler``, ``jobs``, ``pyramid``, ``channels`` and ``devices`` (each device
        predicts its own contiguous ranges along the stack axis; local schedulers only). Default:
        built from ``settings``.
    overwrite : bool
        Replace a finished or foreign store.
    progress : bool or callable
        A progress bar, or ``progress(chunks_done, chunks_total)``.
    connect_timeout : float
        Seconds to wait for a distributed scheduler.

    Returns
    -------
    Path
        The output store.
    """
    options = PredictOptions(**settings) if options is None else options
    out = Path(out)
    if not is_zarr_path(out) or out.suffix.lower() != ".zarr":
        raise Noise2StackError(f"chunked prediction writes OME-Zarr: name the output *.zarr, not {out.name}")
    if Path(spec.path).resolve() == out.resolve():
        raise Noise2StackError(f"the output {out} is also the input; choose another output path")
    device_names = resolve_devices(options.devices)
    loaded = [Model.load(m) for m in models]
    options = _resolved(loaded, spec, options)
    model_ref = ModelRef(tuple(str(Path(m).resolve()) for m in models), tuple(m.checksum() for m in loaded))
    record = _record(model_ref, spec, options)
    action = check_output_store(out, record, overwrite)
    client = _connect(options.scheduler, connect_timeout) if options.scheduler not in LOCAL_SCHEDULERS else None
    try:
        blocks = plan_blocks(spec, str(options.stack_axis), options.chunk_planes, joint=options.channels == "joint")
        _prepare_store(out, spec, options, record, action, len(blocks))
        _run_pending(out, spec, model_ref, options, record, blocks, device_names, progress, client)
    finally:
        if client is not None:
            client.close()
    if options.pyramid:
        write_pyramid(out)
    group = zarr.open_group(str(out), mode="r+")
    if DONE_ARRAY in group:
        del group[DONE_ARRAY]
    group.attrs[RUN_ATTRIBUTE] = {**record, "complete": True, "pyramid": options.pyramid}
    return out


def _resolved(loaded: list[Model], spec: VolumeSpec, options: PredictOptions) -> PredictOptions:
    """``options`` with the stack axis and channels this volume and these models take, after refusing
    what they cannot do; refuses too a volume whose blocks would not fit in memory."""
    stack_axis = resolve_stack_axis(spec, options.stack_axis)
    for model in loaded:
        if not model.method.capabilities.chunkable:
            raise Noise2StackError(
                f"chunked (Zarr) prediction runs one-pass methods ({methods_that('chunkable', ', ')}); "
                f"predict this {model.method_name} model into a TIFF or .npy output"
            )
    first = loaded[0]
    check_model(first, options, Request())
    channels = options.channels_for(first.joint_channels)
    joint = first.joint_channels
    if joint > 1 and ("C" not in spec.axes or spec.size("C") != joint):
        have = spec.size("C") if "C" in spec.axes else "no"
        raise Noise2StackError(f"this model denoises {joint} channels jointly; {spec.path} has {have} C axis channels")
    n_channels = spec.size("C") if "C" in loop_axes(spec, stack_axis) else 1
    if len(loaded) > 1 and len(loaded) != n_channels:
        raise Noise2StackError(f"{len(loaded)} models for {n_channels} channel(s); give one model, or one per channel")
    for m in loaded[1:]:
        if (m.neighbors, m.include_center) != (first.neighbors, first.include_center):
            raise Noise2StackError("the per-channel models use different neighbour settings; train them alike")
    n = spec.size(stack_axis)
    need = min_planes(first.neighbors, first.include_center)
    if first.method.capabilities.needs_stack and n < need:
        raise Noise2StackError(
            f"{spec.path} has {n} plane(s) along {stack_axis}; this model ({first.method_name}, "
            f"{first.neighbors} neighbours) needs at least {need}"
        )
    _check_block_memory(spec, options, n, first.neighbors, joint)
    return PredictOptions(**{**options.model_dump(), "stack_axis": stack_axis, "channels": channels})


def _check_block_memory(spec: VolumeSpec, options: PredictOptions, n: int, neighbors: int, joint: int) -> None:
    """Refuse blocks of ``options.chunk_planes`` that ``options.jobs`` at once would not fit in memory."""
    chunk_planes, plane = options.chunk_planes, spec.size("Y") * spec.size("X")
    slab_planes = min(n, chunk_planes + neighbors)
    # the slab as read and normalised (in place when it is float32), the network's output and the
    # block as the store encodes it
    dtype = np.dtype(spec.dtype)
    read = 4 if dtype == np.float32 else dtype.itemsize + 4
    per_block = slab_planes * plane * read + chunk_planes * plane * 8
    per_block *= joint  # a joint block holds every channel
    stack_axis = str(options.stack_axis)
    decoded = input_read_bytes(spec, joint > 1)
    lower = "`chunk_planes` (or `jobs`)"
    if decoded > per_block:  # the input's own chunks dominate: only rechunking the input helps
        chunks = tuple(getattr(open_array(spec), "chunks", ()))
        lower = f"`jobs`, or store the input in smaller chunks along {stack_axis} (its chunks are {chunks})"
    check_memory(
        (per_block + decoded) * options.jobs,
        f"chunked prediction with `chunk_planes` {chunk_planes} `jobs` {options.jobs}",
        lower,
    )


def input_read_bytes(spec: VolumeSpec, joint: bool = False) -> float:
    """Bytes of the input's chunks decoded at once while one slab is read (:func:`read_slab`).

    Zarr (and a TIFF read through it) decodes whole chunks before it copies out the selection; the
    slab is read one row of chunks at a time, so a row's chunks along X (and joint channels), up to
    ``async.concurrency``, are decoded at once. A store chunked far along the stack axis costs a
    chunk's size per read, whatever ``chunk_planes`` is. An ``.npy`` input is memory-mapped (0).
    """
    chunks = getattr(open_array(spec), "chunks", None)
    if not chunks or len(chunks) != len(spec.axes):
        return 0.0
    touched = 1  # the chunks of one row of a box (read_slab splits the stack axis and Y)
    for letter, chunk in zip(spec.axes, chunks):
        if letter == "X" or (letter == "C" and joint):
            touched *= -(-spec.size(letter) // chunk)
    concurrency = int(zarr.config.get("async.concurrency") or 10)
    return float(min(touched, concurrency) * np.prod(chunks) * np.dtype(spec.dtype).itemsize)


def _prepare_store(
    out: Path, spec: VolumeSpec, options: PredictOptions, record: dict, action: str, n_blocks: int
) -> None:
    """Create (or replace) the store and its done-array, unless the run resumes."""
    if action == "replace":
        shutil.rmtree(out)
    if action not in ("create", "replace"):
        return
    out_axes = ngff_order(spec.axes)
    chunks = tuple(
        options.chunk_planes if a == options.stack_axis else min(STORE_TILE, spec.size(a)) if a in "YX" else 1
        for a in out_axes
    )
    shape = tuple(spec.size(a) for a in out_axes)
    create_ome_zarr(out, out_axes, shape, chunks, spec.scale, spec.units, attributes={RUN_ATTRIBUTE: record})
    zarr.open_group(str(out), mode="r+").create_array(
        DONE_ARRAY, shape=(n_blocks,), chunks=(1,), dtype="uint8", fill_value=0
    )


def _run_pending(
    out: Path,
    spec: VolumeSpec,
    model_ref: ModelRef,
    options: PredictOptions,
    record: dict,
    blocks: list[Block],
    device_names: tuple,
    progress: bool | Progress,
    client,
) -> None:
    """Predict the blocks not marked done, one Dask task each (a chain per device, with devices)."""
    done = np.asarray(zarr.open_array(str(out / DONE_ARRAY), mode="r")[:])
    pending = [b for b in blocks if not done[b.number]]
    voxels = (
        options.chunk_planes * spec.size("Y") * spec.size("X") * (spec.size("C") if options.channels == "joint" else 1)
    )
    bar = ChunkProgress(len(pending), voxels, progress)
    keys = [f"noise2stack-block-{b.number}-{record['input']['mtime_ns']}" for b in pending]
    # with devices, each device's blocks form a chain (each task waits for the one before)
    where = dict(zip((b.number for b in blocks), assign_devices(blocks, len(device_names)))) if device_names else {}
    last: dict = {}
    tasks = []
    for b, key in zip(pending, keys):
        d = where.get(b.number)
        on_device = {} if d is None else {"device": device_names[d], "after": last.get(d)}
        task = dask.delayed(predict_block, pure=False)(
            model_ref, spec, str(out), b, options, dask_key_name=key, **on_device
        )
        tasks.append(task)
        if d is not None:
            last[d] = task
    try:
        if tasks:
            run_blocks(tasks, keys, options.scheduler, len(device_names) or options.jobs, bar, client)
    finally:
        bar.close()
