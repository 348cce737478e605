"""Prediction of a trained model in memory: the method's forward pass through the one tiler.

The engine asks the model's method what it offers (``method.capabilities``), for its prediction
network (``method.prediction_net``, with the view options the user gave) and for the head that
turns its output into an estimate (``method.finish``); it never names a method. ``api.predict``
routes here for in-memory stacks and to :mod:`noise2stack.predict.chunked` for Zarr outputs.

Order of work: :func:`check_model` refuses what the model cannot do before any data are read,
:func:`prepare_stack` checks the data against the model, :func:`denoise` predicts, and the
writers of :mod:`noise2stack.predict.writers` write the outputs a :class:`Request` asks for.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np

from noise2stack import resources
from noise2stack.data.sampler import min_planes
from noise2stack.errors import Noise2StackError
from noise2stack.io.stacks import stored_shape
from noise2stack.methods import METHODS
from noise2stack.model import CONFIG_FILE, Model
from noise2stack.noise.kspace import read_sidecar, spectral_consistency
from noise2stack.predict.options import PredictOptions
from noise2stack.predict.tiling import predict_stack
from noise2stack.predict.writers import (
    Prediction,
    StackWriter,
    UncertaintyWriter,
    UnitsWriter,
    Writer,
    channels_provenance,
    provenance,
)
from noise2stack.progress import ProgressLog, as_progress_log

StackLike = Union[str, os.PathLike, np.ndarray]
#: Options that are a method's view of its network (``capabilities.view_options``), of any method.
VIEW_OPTIONS = tuple(sorted({name for m in METHODS.values() for name in m.capabilities.view_options}))


@dataclass(frozen=True)
class Request:
    """The files an in-memory prediction writes besides the array it returns (paths already checked
    for writing by the caller).

    Attributes
    ----------
    out : path, optional
        The estimate.
    uncertainty : path, optional
        The posterior standard deviation.
    units : path, optional
        A folder for the estimate after each building unit.
    kspace : tuple of path
        k-space sidecars whose measured frequencies are put back after denoising.
    overwrite : bool
        Replace existing unit files.
    """

    out: Path | None = None
    uncertainty: Path | None = None
    units: Path | None = None
    kspace: tuple[Path, ...] = ()
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.out is not None and self.uncertainty is not None:
            if Path(self.out).resolve() == Path(self.uncertainty).resolve():
                raise Noise2StackError("`uncertainty` must differ from the output path")

    def single_channel_only(self, options: PredictOptions) -> list[str]:
        """The options given that work on single-channel stacks only."""
        given = {
            "`kspace`": self.kspace,
            "`uncertainty`": self.uncertainty,
            "`save_units`": self.units,
            "`images`": options.images,
            "`output_scale`": options.output_scale != 1,
        }
        return [name for name, value in given.items() if value]


def methods_that(capability: str, separator: str = " or ") -> str:
    """The registered methods that declare ``capability``, joined by ``separator``, for messages."""
    return separator.join(name for name, m in METHODS.items() if getattr(m.capabilities, capability))


def check_in_memory(noisy: StackLike, tta: bool) -> None:
    """Refuse, before reading it, a stack too large to predict in memory, pointing to chunked prediction."""
    found = (noisy.shape, noisy.dtype) if isinstance(noisy, np.ndarray) else stored_shape(noisy)
    available = resources.available_memory()
    if found is None or available is None:
        return
    shape, dtype = found
    voxels = int(np.prod(shape))
    stored = 0 if isinstance(noisy, np.ndarray) else voxels * dtype.itemsize  # an array is already in memory
    # normalised stack, result and its denormalised copy (and the TTA sum), float32
    needed = stored + voxels * (16 if tta else 12)
    if needed > 0.8 * available:
        raise Noise2StackError(
            f"predicting a stack of shape {tuple(shape)} in memory needs about {needed / 2**30:.1f} GiB but "
            f"{available / 2**30:.1f} GiB is available; write a .zarr output (predict MODEL IN OUT.zarr) to predict it chunk by chunk"
        )


def model_folders(model: str | os.PathLike) -> list[Path]:
    """``[model]``, or its ``channel-0``, ``channel-1``, ... sub-folders (one model per channel)."""
    folder = Path(model)
    per_channel: list[Path] = []
    while (folder / f"channel-{len(per_channel)}" / CONFIG_FILE).is_file():
        per_channel.append(folder / f"channel-{len(per_channel)}")
    if per_channel:
        return per_channel
    if not (folder / CONFIG_FILE).is_file():
        Model.load(folder)  # raises the one-line reason
    return [folder]


def separate_channels(models: Sequence[Model], options: PredictOptions, axes: str | None, source) -> bool:
    """Whether the stack's channels are predicted one at a time: a model per channel (from the folder
    ``source``), or a single-channel model and axes with C. A ``channels`` that contradicts the models
    is refused."""
    if len(models) > 1:
        if options.channels == "joint":
            raise Noise2StackError(f"`channels` joint: {source} holds one model per channel; leave out `channels`")
        return True
    options.channels_for(models[0].joint_channels)
    return "C" in (axes or models[0].axes).upper() and models[0].joint_channels == 1


def channel_axes(models: Sequence[Model], options: PredictOptions, request: Request, axes: str | None) -> str:
    """The axes of a stack predicted channel by channel, after refusing what needs a single channel."""
    given = request.single_channel_only(options)
    if given:
        raise Noise2StackError(f"{given[0]} works on single-channel stacks; predict each channel on its own")
    axes = (axes or models[0].axes).upper()
    if "C" not in axes:
        raise Noise2StackError(f"a model per channel needs a channel axis: give `axes` with C (got {axes})")
    return axes


def view_options(options: PredictOptions) -> dict:
    """The options a method's prediction network takes: its view options and a non-unit output scale."""
    view = {name: getattr(options, name) for name in VIEW_OPTIONS if getattr(options, name) is not None}
    if options.output_scale != 1:
        view["scale"] = options.output_scale
    return view


def check_model(model: Model, options: PredictOptions, request: Request) -> None:
    """Refuse, before any data are read, what ``model`` cannot do with these options and outputs."""
    caps = model.method.capabilities
    options.channels_for(model.joint_channels)
    if request.uncertainty is not None and not caps.uncertainty:
        raise Noise2StackError(
            f"`uncertainty` needs a {methods_that('uncertainty')} model; this one is {model.method_name}"
        )
    if options.output_scale not in caps.output_scales:
        scales = " or ".join(map(str, sorted(set(caps.output_scales))))
        raise Noise2StackError(
            f"`output_scale` {options.output_scale}: a {model.method_name} model predicts at scale {scales}"
        )
    if options.output_scale > 1 and (request.kspace or model.normalizer.background is not None):
        raise Noise2StackError("`output_scale` 2 works without `kspace` and for models trained without `background`")
    if request.units is not None:
        _check_units(model, Path(request.units), request.overwrite)
    model.method.prediction_net(model.net, model.config, **view_options(options))  # refuses foreign view options


def _check_units(model: Model, folder: Path, overwrite: bool) -> None:
    """Refuse building-unit outputs a model does not have, or files that exist without ``overwrite``."""
    if not model.method.capabilities.units:
        raise Noise2StackError(
            f"`save_units` needs a model with building units ({methods_that('units')}), not {model.method_name}"
        )
    if folder.exists() and not folder.is_dir():
        raise Noise2StackError(f"`save_units` {folder} exists and is not a folder")
    for path in UnitsWriter(folder, model.method.unit_count(model.config), "ZYX").paths():
        if path.exists() and not overwrite:
            raise Noise2StackError(f"{path} exists; pass `overwrite` to replace it")


def prepare_stack(model: Model, stack: np.ndarray, request: Request, axes: str) -> tuple[np.ndarray, list]:
    """The stack (raw units) as ``model`` takes it, and the k-space sidecars checked against it."""
    caps = model.method.capabilities
    stack = model.method.prepare_stacks(model.config, model.noise_model, [stack], "the stack to denoise")[0]
    need = min_planes(model.neighbors, model.include_center)
    if caps.needs_stack and stack.shape[0] < need:
        raise Noise2StackError(
            f"a stack of {stack.shape[0]} plane(s) is too short for this model "
            f"({model.method_name}, {model.neighbors} neighbours); it needs at least {need}"
        )
    sidecars = [read_sidecar(p) for p in request.kspace]
    for path, side in zip(request.kspace, sidecars):
        if side["mask"].shape != stack.shape:
            raise Noise2StackError(
                f"`kspace` {path} is for a stack of shape {side['mask'].shape}, not {stack.shape} (axes {axes})"
            )
    return stack, sidecars


def denoise(
    model: Model,
    stack: np.ndarray,
    options: PredictOptions,
    planes: Sequence[int] | None = None,
    progress=False,
    owned: bool = False,
    **view,
) -> Prediction:
    """The model's prediction of a stack.

    Parameters
    ----------
    model : Model
    stack : ndarray, shape (Z, Y, X), or (Z, C, Y, X) for a model of joint channels
        Raw units.
    options : PredictOptions
    planes : sequence of int, optional
        Only these planes (default all); the others serve as neighbours.
    progress : bool or callable
        A bar over planes, or ``progress(planes_done, planes_total)``.
    owned : bool
        The caller hands ``stack`` over: a float32 stack is normalised in place instead of copied
        (chunked prediction's slabs; peak memory then holds one copy of the slab, not two).
    **view
        More options of the method's prediction network (e.g. a building ``unit``).

    Returns
    -------
    Prediction
        The estimate, (Z', Y*s, X*s) or (Z', C, Y, X), and the posterior std where the method has a
        head, both float32 in input units.
    """
    net = model.method.prediction_net(model.net, model.config, **view_options(options), **view)
    # probabilistic methods: (estimate, std) from the samples; None for the others
    head = model.method.prediction_head(model.config, **view_options(options))
    result = predict_stack(
        net,
        model.normalizer.normalize(stack, copy=not owned),
        model.neighbors,
        model.include_center,
        options,
        head=head,
        planes=planes,
        channels_last=model.channels_last,
        progress=progress,
    )
    if model.joint_channels > 1:  # (C, Z, Y, X) from the tiler; the normaliser and writers take ZCYX
        result = np.ascontiguousarray(np.moveaxis(result, 0, 1))
    std = None
    if head is not None:  # (estimate, std) in network units: the std only scales back
        result, std = result[0], result[1] / np.float32(model.normalizer.scale)
    # the tiler's result is ours: denormalised in place, so the block's output exists once
    return Prediction(model.normalizer.denormalize(result, copy=False), std)


def predict_model(
    model: Model,
    stack: np.ndarray,
    options: PredictOptions,
    request: Request = Request(),
    axes: str = "ZYX",
    reference: str | os.PathLike | None = None,
    progress: bool | ProgressLog = True,
) -> np.ndarray:
    """Denoise ``stack`` (raw units, axes ``axes`` reordered to ZYX or ZCYX) with ``model`` and write
    what ``request`` asks for (``reference``: the input file, whose voxel sizes the outputs keep).
    Call :func:`check_model` first. Returns the estimate (see :func:`denoise`)."""
    stack, sidecars = prepare_stack(model, stack, request, axes)
    log = as_progress_log(progress)
    started = time.monotonic()
    planes_done: bool | Callable[[int, int], None] = True  # a bar
    if not (log.bar and log.json_path is None):
        log.predict_start()
        planes_done = log.on_plane  # lines and/or JSON events every 10 %
    prediction = denoise(model, stack, options, progress=planes_done)
    if sidecars:
        prediction.estimate = spectral_consistency(prediction.estimate, sidecars)
    prediction.provenance = provenance(model, options, len(sidecars))
    prediction.unit = lambda u: denoise(model, stack, options, progress=planes_done, unit=u).estimate
    for writer in _writers(model, options, request, axes, reference):
        writer.write(prediction)
    log.predict_end(time.monotonic() - started, None if request.out is None else str(request.out))
    return prediction.estimate


def _writers(
    model: Model, options: PredictOptions, request: Request, axes: str, reference: str | os.PathLike | None
) -> list[Writer]:
    """The writers of the files ``request`` names, in the order they are written."""
    writers: list[Writer] = []
    if request.out is not None:  # a rescaled output has other voxel sizes than the input
        writers.append(StackWriter(request.out, axes, reference if options.output_scale == 1 else None))
    if request.uncertainty is not None:
        writers.append(UncertaintyWriter(request.uncertainty, axes, model, reference))
    if request.units is not None:
        count = model.method.unit_count(model.config)
        writers.append(UnitsWriter(Path(request.units), count, axes, options.images))
    return writers


def predict_channels(
    models: Sequence[Model],
    stack: np.ndarray,
    options: PredictOptions,
    out: Path | None = None,
    axes: str = "ZCYX",
    reference: str | os.PathLike | None = None,
    progress: bool | ProgressLog = True,
) -> np.ndarray:
    """Denoise each channel of a (Z, C, Y, X) stack on its own: channel ``c`` by ``models[c]``, or
    all by ``models[0]``; the result, (Z, C, Y, X) in input units, is written to ``out`` if given."""
    if len(models) > 1 and len(models) != stack.shape[1]:
        raise Noise2StackError(
            f"{len(models)} channel models for {stack.shape[1]} channel(s); give one model, or one per channel"
        )
    channels = []
    for c in range(stack.shape[1]):
        model = models[c if len(models) > 1 else 0]
        check_model(model, options, Request())
        channels.append(predict_model(model, stack[:, c], options, progress=progress))
    result = np.stack(channels, axis=1)
    if out is not None:
        StackWriter(out, axes, reference).write(Prediction(result, provenance=channels_provenance(models, options)))
    return result


def predict_array(model: Model, stack: np.ndarray, options: PredictOptions | None = None) -> np.ndarray:
    """``stack`` (ZYX, raw units) denoised by ``model`` in memory: nothing written, no progress.

    For the package's own callers that hold a model and an array (``compare``'s rows, ``export``'s
    test tensors); users call :func:`noise2stack.api.predict`.
    """
    options = options or PredictOptions()
    check_model(model, options, Request())
    return predict_model(model, stack, options, progress=False)
