"""The Python API: every CLI command is one call of a function here.

>>> from noise2stack import api
>>> api.simulate("clean.tif", "noisy.tif", noise="poisson-gaussian", peak=30, sigma=5)
>>> model = api.train(["noisy.tif"], "model", mode="self", neighbors=2, max_time=120)
>>> api.predict("model", "noisy.tif", "denoised.tif")
>>> api.evaluate("denoised.tif", "clean.tif")["psnr"]

Functions take file paths or in-memory ``ZYX`` arrays, check all input before writing anything, and
raise :class:`noise2stack.errors.Noise2StackError` with a one-line message for bad input.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from noise2stack.compare import OUTPUT_FILES
from noise2stack.compare import compare as run_compare
from noise2stack.config import TrainConfig
from noise2stack.data.sampler import min_planes
from noise2stack.errors import Noise2StackError
from noise2stack.export import check_exportable, export_bioimageio
from noise2stack.filters import denoise_stack
from noise2stack.io.atomic import write_bytes, write_text
from noise2stack.io.paths import (
    StackLike,
    check_output,
    check_parent,
    file_record,
    load_zyx,
    native_axes,
    same_path,
)
from noise2stack.io.stacks import read_array, write_stack
from noise2stack.methods.advice import chooses_neighbors, recommend, struct_flags
from noise2stack.metrics import evaluate_stack
from noise2stack.metrics.stack_analysis import CORRELATED_NOISE, analyze_stack
from noise2stack.metrics.temporal import temporal_fidelity
from noise2stack.model import LOG_FILE, VERSIONS_FILE, Model, package_version
from noise2stack.noise import add_noise, histogram, kspace, poisson_gaussian
from noise2stack.predict.chunked import check_request, is_chunked, predict_path
from noise2stack.predict.engine import (
    Request,
    channel_axes,
    check_in_memory,
    check_model,
    model_folders,
    predict_channels,
    predict_model,
    separate_channels,
)
from noise2stack.predict.options import PredictOptions
from noise2stack.progress import ProgressLog
from noise2stack.report import analysis_png, model_report_html, read_training_log
from noise2stack.train.start import load_model, resume_model, train_model


def train(
    noisy: Sequence[StackLike] | StackLike | None,
    out: str | os.PathLike | None = None,
    config: TrainConfig | None = None,
    targets: Sequence[StackLike] | None = None,
    val: StackLike | None = None,
    val_target: StackLike | None = None,
    config_file: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool | ProgressLog = True,
    resume: str | os.PathLike | None = None,
    init: str | os.PathLike | Model | None = None,
    renormalize: bool = False,
    stream: bool = False,
    channels: str = "separate",
    **options,
) -> Model | list[Model]:
    """Train a denoising model on one or more noisy stacks and write its folder.

    Parameters
    ----------
    noisy : path or array, or a sequence of them
        Noisy stacks (axes ``config.data.axes``); one model is trained for all their planes. May be
        None with ``resume`` (the files recorded in the model folder are used).
    out : path
        Model folder to create.
    config : TrainConfig, optional
        Complete configuration; otherwise built from ``config_file`` and ``options``
        (any :class:`TrainConfig` field, e.g. ``mode="self", neighbors=4, max_time=300``).
    targets : sequence of path or array, optional
        One target stack per input (``mode="copy"``: an independent noisy copy).
    val, val_target : path or array, optional
        A validation stack (and its target in copy mode) instead of held-out planes.
    overwrite : bool
        Replace an existing model folder.
    progress : bool
        Show a progress bar.
    resume : path, optional
        A model folder whose training was interrupted: continue from its last checkpoint with its
        config, data and normalisation. The result equals an uninterrupted run on CPU.
    init : path or Model, optional
        Fine-tune: start from this trained model's weights (same method, network and input channels;
        its method, net, mode, neighbours and units are the defaults here). Its normalisation is
        kept unless ``renormalize``. The new config records ``init_from`` (path and weights SHA-256).
    renormalize : bool
        With ``init``: compute the normalisation from the new data instead.
    stream : bool
        Sample patches straight from the files (lazily read TIFF, memory-mapped .npy) instead of
        loading them; Zarr / OME-Zarr inputs always stream (see :mod:`noise2stack.data.streaming`).
        Every stack of a volume (each T, C index outside the stack axis) is a training stack.
    channels : {"separate", "joint"}
        With a C axis in ``axes``: one model per channel (``out/channel-0``, ``out/channel-1``, ...;
        a list of models is returned), or one model that sees the neighbour planes of every channel
        and predicts all channels at once (``config.data.joint_channels`` is set to the channel count).

    Returns
    -------
    Model, or list of Model (``channels="separate"`` with a C axis)
        The trained model (best validation weights). ``model.stopped_by_signal`` is set when
        SIGINT/SIGTERM stopped training early (the folder then holds a resumable checkpoint).
    """
    if resume is not None:
        if init is not None:
            raise Noise2StackError("`resume` continues its own training; leave out `init`")
        return resume_model(Path(resume), noisy, targets, val, val_target, progress)
    given = dict(targets=targets, val=val, val_target=val_target, config_file=config_file, init=init)
    return train_model(
        noisy, out, config=config, overwrite=overwrite, progress=progress, renormalize=renormalize, stream=stream,
        channels=channels, options=options, **given,
    )  # fmt: skip


# Over 80 lines, on purpose: the docstring documents the 24 keywords of the prediction contract; the
# body builds one PredictOptions and routes (about 40 lines).
def predict(
    model: str | os.PathLike | Model,
    noisy: StackLike,
    out: str | os.PathLike | None = None,
    tile: int = 512,
    overlap: int | None = None,
    batch: int | None = None,
    axes: str | None = None,
    overwrite: bool = False,
    progress: bool | ProgressLog = True,
    kspace: Sequence[str | os.PathLike] | None = None,
    tta: bool = False,
    uncertainty: str | os.PathLike | None = None,
    output_scale: int = 1,
    stitch: str = "blend",
    images: int | None = None,
    save_units: str | os.PathLike | None = None,
    stack_axis: str | None = None,
    chunk_planes: int = 32,
    scheduler: str = "threads",
    jobs: int = 1,
    pyramid: bool = False,
    channels: str | None = None,
    devices: int | Sequence[str] | None = None,
    precision: str = "32",
    estimate: str | None = None,
    sr_inference: str | None = None,
):
    """Denoise a stack with a trained model.

    A Zarr / OME-Zarr input or a ``*.zarr`` output is predicted chunk by chunk instead (see
    :func:`predict_chunked`); the result is then a lazy Dask array over the output store.

    Parameters
    ----------
    model : path or Model
        A model folder written by :func:`train`.
    noisy : path or array
        The stack to denoise, axes ``axes`` (default: the axes the model was trained with).
    out : path, optional
        Where to write the float32 result (TIFF or .npy), in the input's axis order and units.
    tile, overlap, batch, tta, stitch, output_scale, images, precision, stack_axis, chunk_planes, \
scheduler, jobs, pyramid, channels, devices, estimate, sr_inference
        The fields of :class:`~noise2stack.predict.options.PredictOptions`, validated and described
        there once (the CLI's help shows the same text).
    kspace : sequence of path, optional
        Sidecars of ``simulate --noise kspace``: after denoising, the measured frequencies are put
        back (spectral post-processing; two sidecars for two independent corruptions).
    uncertainty : path, optional
        Probabilistic models (``capabilities.uncertainty``): where to write the posterior sd per pixel
        (float32, input units); the result is then the MMSE estimate (paper 004 eq. 11), or with
        ``estimate="prior-mean"`` the samples' mean (and the sd is then the prior's spread).
    progress : bool or ProgressLog
        True: a bar over planes; a :class:`~noise2stack.progress.ProgressLog`: lines and/or JSON every 10 %.
    save_units : path, optional
        Models of building units (``capabilities.units``, paper 003 §2.2.4): a folder for ``unit_1.tif``
        ... ``unit_U.tif``, the running image after each unit (existing files only with ``overwrite``).

    Returns
    -------
    ndarray, shape (Z, Y, X) (or (Z, 2Y, 2X) with ``output_scale=2``), float32
    """
    # the keyword arguments named after PredictOptions' fields, so each is validated in one place
    options = PredictOptions(**{k: v for k, v in locals().items() if k in PredictOptions.model_fields})
    kspace_paths = tuple(Path(p) for p in kspace or ())
    units = _path(save_units)
    if is_chunked(noisy, out):
        check_request(out, Request(uncertainty=_path(uncertainty), units=units, kspace=kspace_paths))
        return predict_path(model, noisy, out, axes, options, overwrite=overwrite, progress=progress)  # type: ignore[arg-type]  # is_chunked: paths
    options.require_in_memory()
    if units is not None:
        check_parent(units)
    request = Request(
        out=None if out is None else check_output(out, [noisy], overwrite),
        uncertainty=None if uncertainty is None else check_output(uncertainty, [noisy], overwrite),
        units=units,
        kspace=kspace_paths,
        overwrite=overwrite,
    )
    return _predict_in_memory(model, noisy, axes, options, request, progress)


def _path(path: str | os.PathLike | None) -> Path | None:
    return None if path is None else Path(path)


def _predict_in_memory(
    model: str | os.PathLike | Model,
    noisy: StackLike,
    axes: str | None,
    options: PredictOptions,
    request: Request,
    progress: bool | ProgressLog,
) -> np.ndarray:
    """:func:`predict` of a stack that fits in memory, its outputs checked (``request``)."""
    models = [load_model(m) for m in (channel_models(model) if not isinstance(model, Model) else [model])]
    if separate_channels(models, options, axes, model):
        return _predict_separate(models, noisy, axes, progress, options, request)
    m = models[0]
    check_model(m, options, request)
    axes = axes or m.axes
    _check_in_memory(noisy, options.tta)
    stack = load_zyx(noisy, axes)
    reference = None if isinstance(noisy, np.ndarray) else noisy
    return predict_model(m, stack, options, request, axes, reference, progress)


def _check_in_memory(noisy: StackLike, tta: bool) -> None:
    """Refuse, before reading it, a stack too large to predict in memory, pointing to chunked prediction."""
    check_in_memory(noisy, tta)


def _predict_separate(
    models: list[Model], noisy: StackLike, axes: str | None, progress, options: PredictOptions, request: Request
) -> np.ndarray:
    """``--channels separate`` in memory: each channel of a C-axis stack denoised by its own model
    (``models``: one per channel, or one for all), written to ``request.out`` in the input's axes."""
    axes = channel_axes(models, options, request, axes)
    _check_in_memory(noisy, options.tta)
    stack = load_zyx(noisy, axes)  # (Z, C, Y, X)
    reference = None if isinstance(noisy, np.ndarray) else noisy
    return predict_channels(models, stack, options, request.out, axes, reference, progress)


def channel_models(model: str | os.PathLike) -> list[Path]:
    """``[model]``, or its ``channel-0``, ``channel-1``, ... sub-folders (one model per channel)."""
    return model_folders(model)


def predict_chunked(
    model: str | os.PathLike,
    noisy: str | os.PathLike,
    out: str | os.PathLike,
    axes: str | None = None,
    stack_axis: str | None = None,
    chunk_planes: int = 32,
    tile: int = 512,
    overlap: int | None = None,
    batch: int | None = None,
    tta: bool = False,
    scheduler: str = "threads",
    jobs: int = 1,
    pyramid: bool = False,
    channels: str | None = None,
    overwrite: bool = False,
    progress=True,
    devices: int | Sequence[str] | None = None,
    precision: str = "32",
):
    """Denoise a volume of any size and axes chunk by chunk into an OME-Zarr store (resumable).

    Parameters
    ----------
    model : path
        A model folder, or a folder of per-channel models ``channel-0``, ``channel-1``, ...
    noisy : path
        Zarr array, OME-Zarr, TIFF (read lazily) or ``.npy`` (memory-mapped); axes from ``axes``,
        else from the file's metadata.
    out : path
        ``*.zarr`` output (OME-Zarr 0.5, float32, the input's axes, voxel sizes and units).
    stack_axis : {"Z", "T"}, optional
        The neighbour axis (default Z when present); other axes (T, C) are looped over.
    chunk_planes, scheduler, jobs, pyramid, devices, precision
        See :func:`noise2stack.predict.chunked.predict_volume` (``devices``: a number of GPUs, each
        predicting its own ranges along the stack axis).
    channels : {"separate", "joint"}, optional
        Default: as the model was trained (``joint`` for a model of joint channels, which then
        reads all channels of each block at once); a value that contradicts the model is refused.

    Returns
    -------
    dask.array.Array
        The output's full-resolution level, lazily.
    """
    options = PredictOptions(
        tile=tile,
        overlap=overlap,
        batch=batch,
        tta=tta,
        precision=precision,
        stack_axis=stack_axis,
        chunk_planes=chunk_planes,
        scheduler=scheduler,
        jobs=jobs,
        pyramid=pyramid,
        channels=channels,
        devices=devices,
    )
    return predict_path(model, noisy, out, axes, options, overwrite=overwrite, progress=progress)


def evaluate(
    prediction: StackLike,
    reference: StackLike | None = None,
    normalize: str = "none",
    axes: str = "ZYX",
    noisy: StackLike | None = None,
    labels: StackLike | None = None,
) -> dict:
    """PSNR, SSIM and NRMSE per plane and their means (see :mod:`noise2stack.metrics`); for a
    time-lapse (``axes`` with T) also its fidelity along T.

    Parameters
    ----------
    prediction, reference : path or array
        The denoised stack and its clean reference (same shape, axes ``axes``). Without a reference
        only the time-lapse measurements that need none run (``noisy`` is then required).
    noisy : path or array, optional
        The noisy input of the prediction: adds the residual's whiteness and the input's tSNR.
    labels : path or array, optional
        A (Y, X) label image of the regions whose ΔF/F traces are compared with the reference's
        (0: background); default: the bright regions of the reference's mean image.

    Returns
    -------
    dict
        With a reference: ``psnr``, ``ssim``, ``nrmse``, ``per_plane``. With T in ``axes``:
        ``temporal`` (:func:`noise2stack.metrics.temporal.temporal_fidelity`): ``tsnr`` (median over pixels, per stack),
        ``trace_correlation`` (with a reference: ``regions``, median ``denoised`` and ``noisy``
        correlations, ``per_region``) and ``residual_whiteness`` (with ``noisy``: lag-1
        autocorrelation along ``t``, ``y``, ``x``). And ``noise2stack``, the version.
    """
    if normalize not in ("none", "care"):
        raise Noise2StackError(f"unknown `normalize` {normalize!r}; use none or care")
    if reference is None and (noisy is None or "T" not in axes.upper()):
        raise Noise2StackError("give a reference, or for a time-lapse (axes with T) the noisy input")
    stacks = {"denoised": load_zyx(prediction, axes)}
    for name, item in (("reference", reference), ("noisy", noisy)):
        if item is not None:
            stacks[name] = load_zyx(item, axes)
            if stacks[name].shape != stacks["denoised"].shape:
                raise Noise2StackError(
                    f"the {name} has shape {stacks[name].shape}, the prediction {stacks['denoised'].shape}"
                )
    result: dict = {}
    if reference is not None:
        result = evaluate_stack(stacks["denoised"], stacks["reference"], normalize)  # type: ignore[arg-type]
    if "T" in axes.upper():
        result["temporal"] = temporal_fidelity(stacks, None if labels is None else _labels(labels, stacks))
    result["noise2stack"] = package_version()
    return result


def _labels(labels: StackLike, stacks: dict) -> np.ndarray:
    """A (Y, X) integer label image of the stacks' plane size."""
    array = labels if isinstance(labels, np.ndarray) else read_array(labels)
    array = np.squeeze(np.asarray(array))
    if array.shape != stacks["denoised"].shape[-2:] or not np.issubdtype(array.dtype, np.integer):
        raise Noise2StackError(
            f"`labels` must be an integer (Y, X) image of {stacks['denoised'].shape[-2:]}, got {array.dtype} {array.shape}"
        )
    return array


def temporal_summary(temporal: dict) -> str:
    """The readable lines ``noise2stack evaluate`` prints for a time-lapse."""
    lines = ["tSNR (median over pixels): " + ", ".join(f"{k} {v:.2f}" for k, v in temporal["tsnr"].items())]
    traces = temporal.get("trace_correlation")
    if traces is not None:
        found = ", ".join(f"{k} {v:.3f}" for k, v in traces.items() if k in ("denoised", "noisy") and v is not None)
        lines.append(f"dF/F trace correlation with the reference over {traces['regions']} regions (median): {found}")
    white = temporal.get("residual_whiteness")
    if white is not None:
        lines.append(
            "residual noisy - denoised, lag-1 autocorrelation (about 0: only noise removed): "
            + ", ".join(f"{k.upper()} {v:.3f}" for k, v in white.items())
        )
    return "\n".join(lines)


def sidecar_path(out: str | os.PathLike) -> Path:
    """Where ``simulate --noise kspace`` puts its sidecar: ``noisy.tif`` -> ``noisy.kspace.npz``."""
    out = Path(out)
    stem = out.name[: -len(".nii.gz")] if out.name.lower().endswith(".nii.gz") else out.stem
    return out.with_name(f"{stem}.kspace.npz")


def simulate(
    clean: StackLike,
    out: str | os.PathLike | None,
    noise: str,
    sigma: float | None = None,
    peak: float | None = None,
    seed: int | None = 0,
    overwrite: bool = False,
    keep: float | None = None,
    axes: str | None = None,
) -> np.ndarray:
    """Add synthetic noise to a clean image and write it (float32, same shape) to ``out``.

    ``noise="kspace"`` undersamples every plane's spectrum keeping a ``keep`` fraction (see
    :mod:`noise2stack.noise.kspace`) and also writes the sidecar :func:`sidecar_path` (out).
    """

    if noise == "kspace" and keep is None:
        raise Noise2StackError("`noise` kspace needs `keep` (the kept fraction of frequencies, e.g. 0.1)")
    if noise == "kspace" and not 0 < float(keep or 0) <= 1:
        raise Noise2StackError(f"`keep` must be in (0, 1], got {keep}")
    if out is not None:
        out = check_output(out, [clean], overwrite)
        if noise == "kspace":
            check_output(sidecar_path(out), [clean], overwrite)
    array = clean if isinstance(clean, np.ndarray) else read_array(clean)
    axes = axes or native_axes(array)
    stack = load_zyx(array, axes)
    if noise == "kspace":
        noisy, sidecar = kspace.undersample(stack, float(keep or 0), seed)
    else:
        noisy = add_noise(stack, noise, sigma=sigma, peak=peak, seed=seed)
    if out is not None:
        provenance = {
            "noise2stack": package_version(),
            "noise": noise,
            "sigma": sigma,
            "peak": peak,
            "keep": keep,
            "seed": seed,
        }
        reference = None if isinstance(clean, np.ndarray) else clean
        if noise == "kspace":
            kspace.write_sidecar(sidecar_path(out), sidecar)
        write_stack(out, noisy, axes, metadata=provenance, reference=reference)
    return noisy


def denoise(
    noisy: StackLike,
    out: str | os.PathLike | None,
    method: str,
    sigma: float | None = None,
    average_neighbors: int = 0,
    axes: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **options,
) -> np.ndarray:
    """Denoise with a training-free filter (see :mod:`noise2stack.filters`); writes float32 to ``out``."""

    if out is not None:
        out = check_output(out, [noisy], overwrite)
    array = noisy if isinstance(noisy, np.ndarray) else read_array(noisy)
    axes = axes or native_axes(array)
    stack = load_zyx(array, axes)
    result = denoise_stack(stack, method, sigma=sigma, average=average_neighbors, progress=progress, **options)
    if out is not None:
        meta = {
            "noise2stack": package_version(),
            "method": method,
            "sigma": sigma,
            "average_neighbors": average_neighbors,
        }
        write_stack(out, result, axes, metadata=meta)
    return result


def compare(
    clean: StackLike,
    out_dir: str | os.PathLike,
    noise: dict,
    budget: float = 300.0,
    methods: list[str] | None = None,
    normalize: str = "care",
    seed: int = 0,
    axes: str = "ZYX",
    progress: bool = True,
    title: str = "",
    overwrite: bool = False,
    train_options: dict | None = None,
) -> dict:
    """Compare methods on a clean stack with simulated noise (see :mod:`noise2stack.compare`).

    ``train_options`` are :class:`~noise2stack.config.TrainConfig` fields given to every trained
    row (for example ``{"precision": "32"}``); a row's own options (N2V2's net) take precedence.
    """

    if normalize not in ("none", "care"):
        raise Noise2StackError(f"unknown `normalize` {normalize!r}; use none or care")
    if not budget > 0:
        raise Noise2StackError("`budget` must be > 0 seconds")

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise Noise2StackError(f"`out` {out} exists and is not a folder")
    if not overwrite and any((out / name).exists() for name in OUTPUT_FILES):
        raise Noise2StackError(f"{out} holds an earlier comparison; pass `overwrite` to replace it")
    stack = load_zyx(clean, axes).astype(np.float32)
    add_noise(stack[:1], seed=seed, **noise)  # check the noise options before any work
    if train_options:
        from noise2stack.config import flat_names

        unknown = set(train_options) - flat_names()
        if unknown:
            raise Noise2StackError(f"unknown training options {sorted(unknown)}")
    return run_compare(
        stack,
        out,
        noise,
        budget=budget,
        seed=seed,
        methods=methods,
        normalize=normalize,
        progress=progress,
        title=title,
        train_options=train_options,
    )


def noise_model(
    out: str | os.PathLike,
    signal: StackLike | None = None,
    observation: StackLike | None = None,
    calibration: StackLike | None = None,
    estimate_from: StackLike | None = None,
    plot: str | os.PathLike | None = None,
    axes: str | None = None,
    overwrite: bool = False,
):
    """Make a histogram noise model p(x | s) for pn2v/pn2stack and write it to ``out`` (.npz).

    Exactly one source: ``signal`` + ``observation`` (clean/noisy pairs of one shape),
    ``calibration`` (repeated noisy images of one static scene; their mean is the signal) or
    ``estimate_from`` (noisy data alone: a fitted Poisson-Gaussian model). ``plot`` also writes a
    PNG of p(x | s) for a few signal levels. Returns the :class:`HistogramNoiseModel`.
    """

    sources = [
        n
        for n, v in (
            ("`signal`/`observation`", signal if signal is not None else observation),
            ("`calibration`", calibration),
            ("`estimate_from`", estimate_from),
        )
        if v is not None
    ]
    if len(sources) != 1:
        raise Noise2StackError("give exactly one of `signal` with `observation`, `calibration` or `estimate_from`")
    if (signal is None) != (observation is None):
        raise Noise2StackError("`signal` and `observation` go together")
    if Path(out).suffix.lower() != ".npz":
        raise Noise2StackError(f"a noise model is written as .npz; got {out}")
    inputs = [v for v in (signal, observation, calibration, estimate_from) if v is not None]
    out = check_output(out, inputs, overwrite)
    if plot is not None:
        plot = check_output(plot, inputs, overwrite)
        if same_path(plot, out):
            raise Noise2StackError("`plot` must differ from the noise-model file")

    def load(item: StackLike | None) -> np.ndarray:
        assert item is not None  # the one source given
        array = item if isinstance(item, np.ndarray) else read_array(item)
        return load_zyx(array, axes or native_axes(array))

    record = {"noise2stack": package_version()}
    if signal is not None and observation is not None:  # given together (checked above)
        s, o = load(signal), load(observation)
        if s.shape != o.shape:
            raise Noise2StackError(
                f"`signal` has shape {s.shape} but `observation` has shape {o.shape}; they must match"
            )
        model = histogram.from_pairs(
            s, o, provenance={**record, "signal": file_record(signal), "observation": file_record(observation)}
        )
    elif calibration is not None:
        model = histogram.from_calibration(
            load(calibration), provenance={**record, "calibration": file_record(calibration)}
        )
    elif estimate_from is not None:
        model = poisson_gaussian.estimate_model(
            load(estimate_from), provenance={**record, "noisy": file_record(estimate_from)}
        )
    model.save(out)
    if plot is not None:
        histogram.plot(model, plot)
    return model


def analyze(
    stack: StackLike,
    target: StackLike | None = None,
    axes: str | None = None,
    max_pairs: int = 16,
    figure: str | os.PathLike | None = None,
) -> dict:
    """Measure what decides which method works on a noisy stack, and recommend one.

    See :mod:`noise2stack.metrics.stack_analysis` for the measurements and the rules.

    Parameters
    ----------
    stack : path or array
        The noisy stack (axes ``axes``; default YX or ZYX by dimension).
    target : path or array, optional
        A second noisy copy of the same stack (independent noise), as ``train --target`` takes it.
    max_pairs : int
        Planes sampled per distance (speed against precision).
    figure : path, optional
        A PNG file to write the measurements to as a figure (atomically; never an input).

    Returns
    -------
    dict
        The JSON contract of ``noise2stack analyze --json``: ``recommendation`` (``method``, ``mode``,
        ``neighbors``, ``reason``, ``blindspot_shape``, ``blindspot_length``; names as ``train`` takes them), ``neighbor_predictability_db``
        (``{"1": dB, "2": dB, "3": dB}``, noise-corrected; None where the stack is too short),
        ``neighbor_predictability_raw_db`` (uncorrected), ``noise_correlation`` (between neighbouring
        planes; None for one plane), ``noise_correlation_by_distance``, ``noise`` (``gain``,
        ``read_noise_variance``, ``r2``, ``fits``, ``variance``, ``snr_db``, ``source``),
        ``copy_noise_correlation``, ``noise_autocorrelation`` (within planes: ``{"y": {"1": r, ...},
        "x": {...}}``, lags in pixels), ``shape``, ``planes_sampled``, ``noise_bins`` (``[intensity,
        variance, pixel count]`` per bin of the fit), ``noise2stack``.
    """

    if max_pairs < 1:
        raise Noise2StackError("max_pairs must be at least 1")
    figure = None if figure is None else _png_output(figure, [s for s in (stack, target) if s is not None])
    array = stack if isinstance(stack, np.ndarray) else read_array(stack)
    axes = axes or native_axes(array)
    noisy = load_zyx(array, axes)
    copy = None
    if target is not None:
        copy = load_zyx(target, axes)
        if copy.shape != noisy.shape:
            raise Noise2StackError(
                f"`targets` has shape {copy.shape} (ZYX), the stack {noisy.shape}; give a copy of the same stack"
            )
    if min(noisy.shape[1:]) < 8:
        raise Noise2StackError(
            f"planes of {noisy.shape[1]}x{noisy.shape[2]} pixels are too small to analyze (at least 8x8)"
        )
    if float(noisy.max()) == float(noisy.min()):
        raise Noise2StackError("the stack is constant: there is nothing to analyze")
    result = analyze_stack(noisy, copy, max_pairs=max_pairs)
    recommendation = recommend(result, has_copy=copy is not None)

    def keyed(values: dict) -> dict:
        return {str(k): v for k, v in values.items()}

    analysis = {
        "recommendation": recommendation,
        "neighbor_predictability_db": keyed(result["neighbor_predictability_db"]),
        "neighbor_predictability_raw_db": keyed(result["neighbor_predictability_raw_db"]),
        "noise_correlation": result["noise_correlation"],
        "noise_correlation_by_distance": keyed(result["noise_correlation_by_distance"]),
        "noise": result["noise"],
        "copy_noise_correlation": result["copy_noise_correlation"],
        "noise_autocorrelation": {axis: keyed(lags) for axis, lags in result["noise_autocorrelation"].items()},
        "shape": list(noisy.shape),
        "planes_sampled": result["planes_sampled"],
        "noise_bins": result["noise_bins"],
        "noise2stack": package_version(),
    }
    if figure is not None:
        write_bytes(figure, analysis_png(analysis))
    return analysis


def _autocorrelation_line(autocorrelation: dict) -> str:
    """One line of the in-plane noise autocorrelation along Y and X, lag by lag."""

    def lags(values: dict) -> str:
        return ", ".join(f"{d}: {'n/a' if r is None else f'{r:.2f}'}" for d, r in values.items())

    return f"noise autocorrelation within planes (lag px: r): along Y {lags(autocorrelation['y'])}; along X {lags(autocorrelation['x'])}"


def _png_output(path: str | os.PathLike, inputs: list) -> Path:
    """A PNG figure's path, refused when it is not ``.png``, is an input or a folder (replaced when it exists)."""
    if Path(path).suffix.lower() != ".png":
        raise Noise2StackError(f"the figure {path} must be a .png file")
    return check_output(path, inputs, overwrite=True)


def analysis_summary(result: dict) -> str:
    """The readable summary ``noise2stack analyze`` prints (a few lines)."""

    def db(v):
        return "  n/a" if v is None else f"{v:5.1f}"

    rec = result["recommendation"]
    pred, raw = result["neighbor_predictability_db"], result["neighbor_predictability_raw_db"]
    lines = [f"stack {'x'.join(map(str, result['shape']))} (ZYX), {result['planes_sampled']} planes sampled"]
    lines.append(
        "neighbour predictability (dB, noise-corrected; raw in brackets): "
        + ", ".join(f"d={d}: {db(pred[d]).strip()} [{db(raw[d]).strip()}]" for d in pred)
    )
    rho = result["noise_correlation"]
    if rho is None:
        lines.append("noise correlation between planes: n/a (one plane)")
    else:
        verdict = (
            "HIGH: the noise is correlated between neighbouring planes; Noise2Stack self-supervision "
            "would learn to copy it"
            if rho >= CORRELATED_NOISE
            else "low: the noise is independent between planes"
        )
        lines.append(f"noise correlation between neighbouring planes: {rho:.2f} ({verdict})")
    if result["copy_noise_correlation"] is not None:
        lines.append(f"noise correlation between stack and copy: {result['copy_noise_correlation']:.2f}")
    lines.append(_autocorrelation_line(result["noise_autocorrelation"]))
    noise = result["noise"]
    snr = "n/a" if noise["snr_db"] is None else f"{noise['snr_db']:.1f} dB"
    line = f"noise: variance {noise['variance']:.4g} (from the {noise['source']}), SNR {snr}; "
    if noise["fits"]:
        line += f"Poisson-Gaussian fit: gain {noise['gain']:.4g}, read-noise variance {noise['read_noise_variance']:.4g} (r2 {noise['r2']:.2f})"
    else:
        line += "no Poisson-Gaussian fit" + ("" if noise["r2"] is None else f" (r2 {noise['r2']:.2f})")
    lines.append(line)
    lines.append(
        f"recommendation: noise2stack train --method {rec['method']} --mode {rec['mode']}"
        + (f" --neighbors {rec['neighbors']}" if chooses_neighbors(rec["method"]) else "")
        + struct_flags(rec)
    )
    lines.append(f"  why: {rec['reason']}")
    return "\n".join(lines)


def report(
    model: str | os.PathLike | Model,
    noisy: StackLike,
    out: str | os.PathLike,
    reference: StackLike | None = None,
    denoised: StackLike | None = None,
    normalize: str = "none",
    axes: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Write one self-contained HTML page about denoising ``noisy`` with ``model`` (see :mod:`noise2stack.report`).

    Parameters
    ----------
    model : path or Model
        A model folder written by :func:`train` (its ``training_log.csv`` gives the loss curves).
    noisy : path or array
        The noisy stack (axes ``axes``; default: the model's).
    out : path
        The HTML file to write (atomically; an existing one only with ``overwrite``).
    reference : path or array, optional
        The clean stack, same shape: adds PSNR/SSIM/NRMSE, per plane and mean.
    denoised : path or array, optional
        The model's prediction, same shape; predicted here when not given.
    normalize : {"none", "care"}
        Metric normalisation, as :func:`evaluate`.

    Returns
    -------
    dict
        ``out`` (path), ``metrics`` (``{"noisy": evaluate(...), "denoised": evaluate(...)}`` or None),
        ``analysis`` (:func:`analyze` of the noisy stack, or ``{"error": why}``).
    """

    if normalize not in ("none", "care"):
        raise Noise2StackError(f"unknown `normalize` {normalize!r}; use none or care")
    inputs = [item for item in (noisy, reference, denoised) if item is not None]
    if not isinstance(model, Model) and same_path(out, model):
        raise Noise2StackError(f"the output {out} is the model folder; choose another `out`")
    out = check_output(out, inputs, overwrite)
    m = load_model(model)
    stack, clean, result = _report_stacks(m, noisy, reference, denoised, axes or m.config.data.axes)
    metrics = None
    if clean is not None:
        metrics = {
            "noisy": evaluate(stack, clean, normalize=normalize),
            "denoised": evaluate(result, clean, normalize=normalize),
        }
    try:
        analysis = analyze(stack)
    except Noise2StackError as exc:  # a stack too small or constant to analyze still gets its report
        analysis = {"error": str(exc)}
    temporal = None
    if "T" in (axes or m.config.data.axes).upper():
        stacks = {"denoised": result, "noisy": stack} | ({} if clean is None else {"reference": clean})
        temporal = temporal_fidelity(stacks, None)
    text = model_report_html(
        model=m,
        noisy=stack,
        denoised=result,
        reference=clean,
        metrics=metrics,
        analysis=analysis,
        log=_training_log(m),
        names=_report_names(m, noisy, reference, denoised),
        temporal=temporal,
    )
    write_text(out, text)
    return {"out": str(out), "metrics": metrics, "analysis": analysis, "temporal": temporal}


def _report_stacks(
    m: Model, noisy: StackLike, reference: StackLike | None, denoised: StackLike | None, axes: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The noisy, clean (or None) and denoised stacks of a report, ZYX; the denoised one is predicted
    when not given. A reference or prediction of another shape is refused before any work."""
    _check_in_memory(noisy, False)
    stack = load_zyx(noisy, axes)
    clean = None
    if reference is not None:
        clean = load_zyx(reference, axes)
        if clean.shape != stack.shape:
            raise Noise2StackError(
                f"`reference` has shape {clean.shape}, the noisy stack {stack.shape} (ZYX); give the clean version of the same stack"
            )
    if denoised is not None:
        result = load_zyx(denoised, axes)
        if result.shape != stack.shape:
            raise Noise2StackError(
                f"`denoised` has shape {result.shape}, the noisy stack {stack.shape} (ZYX); give this stack's prediction"
            )
    else:
        result = predict(m, stack, progress=False)
    return stack, clean, result


def _training_log(m: Model) -> dict[str, list[float]] | None:
    """The columns of the model folder's training log, or None (a model in memory, or no log)."""

    log_path = m.folder / LOG_FILE if m.folder is not None else None
    return read_training_log(log_path) if log_path is not None and log_path.is_file() else None


def _report_names(
    m: Model, noisy: StackLike, reference: StackLike | None, denoised: StackLike | None
) -> dict[str, str]:
    """What a report calls its inputs: the paths given, or a placeholder for arrays."""

    def name(item, fallback: str) -> str:
        return fallback if isinstance(item, np.ndarray) else str(item)

    return {
        "model": str(m.folder) if m.folder is not None else "(in memory)",
        "noisy": name(noisy, "(array)"),
        "denoised": "predicted for this report" if denoised is None else name(denoised, "(array)"),
        "reference": name(reference, "(array)") if reference is not None else "",
    }


def export(
    model: str | os.PathLike | Model,
    out: str | os.PathLike,
    format: str = "bioimageio",
    sample: StackLike | None = None,
    axes: str | None = None,
    name: str | None = None,
    authors: Sequence[str] | None = None,
    overwrite: bool = False,
) -> dict:
    """Export a model for another program; today a BioImage Model Zoo package (see :mod:`noise2stack.export`).

    Parameters
    ----------
    model : path or Model
        A model folder of a one-pass method (n2stack, n2n, n2c, n2v).
    out : path
        The package to write (``.zip``).
    sample : path or array, optional
        A noisy stack for the package's test tensors and cover; default: the model's first training
        stack (recorded in its folder) when it is still readable.
    """

    if format != "bioimageio":
        raise Noise2StackError(f"unknown `format` {format!r}; use bioimageio")
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise Noise2StackError(f"a bioimage.io package is a .zip file, not {out.name}")
    out = check_output(out, [sample] if sample is not None else [], overwrite)
    m = load_model(model)
    check_exportable(m)
    if sample is None:
        record = {}
        if m.folder is not None and (m.folder / VERSIONS_FILE).is_file():
            with contextlib.suppress(json.JSONDecodeError, OSError):
                record = json.loads((m.folder / VERSIONS_FILE).read_text(encoding="utf-8"))
        paths = [
            r.get("path") for r in ((record.get("training_data") or {}).get("inputs") or []) if isinstance(r, dict)
        ]
        if not paths or not paths[0] or not Path(paths[0]).is_file():
            raise Noise2StackError(
                "the model's training stack is not available; pass `sample` NOISY for the package's test data"
            )
        sample = paths[0]
    stack = load_zyx(sample, axes or m.config.data.axes)

    if m.method.capabilities.needs_stack and stack.shape[0] < min_planes(m.neighbors, m.include_center):
        raise Noise2StackError(
            f"the sample stack has {stack.shape[0]} plane(s); this model needs at least {min_planes(m.neighbors, m.include_center)}"
        )
    return export_bioimageio(m, stack, out, name=name, authors=list(authors) if authors else None)
