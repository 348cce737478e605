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

import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from noise2stack.config import TrainConfig, load_config, make_config
from noise2stack.errors import Noise2StackError
from noise2stack.io.stacks import check_readable, read_array, to_zyx, write_stack
from noise2stack.metrics import evaluate_stack
from noise2stack.model import CONFIG_FILE, Model, package_version
from noise2stack.noise import add_noise

StackLike = Union[str, os.PathLike, np.ndarray]


def _load(stack: StackLike, axes: str | None) -> np.ndarray:
    """A ZYX array from a path or array; ``axes=None`` takes YX for 2-D and ZYX for 3-D data."""
    if isinstance(stack, np.ndarray):
        if stack.dtype.kind not in "uif" or stack.size == 0:
            raise Noise2StackError(f"an image must be a non-empty array of integers or floats, got {stack.dtype} {stack.shape}")
        if stack.dtype.kind == "f" and not np.isfinite(stack).all():
            raise Noise2StackError("the array contains NaN or Inf values; replace them before denoising")
        array = stack
    else:
        array = read_array(stack)
    return to_zyx(array, axes or _native_axes(array))


def _native_axes(array: np.ndarray) -> str:
    if array.ndim not in (2, 3):
        raise Noise2StackError(f"the image has {array.ndim} axes, shape {array.shape}; give --axes")
    return "YX" if array.ndim == 2 else "ZYX"


def _same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _check_output(out: str | os.PathLike, inputs: Sequence[StackLike], overwrite: bool) -> Path:
    out = Path(out)
    for item in inputs:
        if not isinstance(item, np.ndarray) and _same_path(out, item):
            raise Noise2StackError(f"the output {out} is also an input; choose another output path")
    if out.exists() and not overwrite:
        raise Noise2StackError(f"{out} exists; pass --overwrite to replace it")
    if out.exists() and out.is_dir():
        raise Noise2StackError(f"{out} is a folder, not a file")
    _check_parent(out)
    return out


def _check_parent(out: Path) -> None:
    if not out.parent.is_dir():
        raise Noise2StackError(f"output folder does not exist: {out.parent}")
    if not os.access(out.parent, os.W_OK):
        raise Noise2StackError(f"output folder is not writable: {out.parent}")


def _file_record(item: StackLike) -> dict:
    from noise2stack.model import file_sha256

    if isinstance(item, np.ndarray):
        return {"array": list(item.shape)}
    if Path(item).is_dir():  # a Zarr store: hashing a volume of any size is not an option
        return {"path": str(Path(item).resolve())}
    return {"path": str(Path(item).resolve()), "sha256": file_sha256(item)}


def _from_record(record: dict, folder: Path) -> str:
    if "path" not in record:
        raise Noise2StackError(f"{folder} was trained on in-memory arrays; pass the same arrays again to resume")
    from noise2stack.model import file_sha256

    path = record["path"]
    check_readable(path)
    if file_sha256(path) != record.get("sha256"):
        raise Noise2StackError(f"{path} changed since training started; resuming would train on other data")
    return path


def train(
    noisy: Sequence[StackLike] | StackLike | None,
    out: str | os.PathLike | None = None,
    config: TrainConfig | None = None,
    targets: Sequence[StackLike] | None = None,
    val: StackLike | None = None,
    val_target: StackLike | None = None,
    config_file: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
    resume: str | os.PathLike | None = None,
    stream: bool = False,
    **options,
) -> Model:
    """Train a denoising model on one or more noisy stacks and write its folder.

    Parameters
    ----------
    noisy : path or array, or a sequence of them
        Noisy stacks (axes ``config.axes``); one model is trained for all their planes. May be
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
    stream : bool
        Sample patches straight from the files (lazily read TIFF, memory-mapped .npy) instead of
        loading them; Zarr / OME-Zarr inputs always stream (see :mod:`noise2stack.data.streaming`).
        Every stack of a volume (each T, C index outside the stack axis) is a training stack.

    Returns
    -------
    Model
        The trained model (best validation weights). ``model.stopped_by_signal`` is set when
        SIGINT/SIGTERM stopped training early (the folder then holds a resumable checkpoint).
    """
    from noise2stack.train import fit

    if resume is not None:
        return _resume(Path(resume), noisy, targets, val, val_target, progress)
    if out is None:
        raise Noise2StackError("--out MODEL_DIR is required")
    if noisy is None:
        raise Noise2StackError("no input stacks given")
    from noise2stack.methods import get_method

    if config is None:
        options = {k: v for k, v in options.items() if v is not None}
        file_values = load_config(config_file).model_dump(exclude_unset=True) if config_file else {}
        method = get_method(options.get("method", file_values.get("method", "n2stack")))
        config = make_config(**{**method.defaults, **file_values, **options})
    elif options:
        raise Noise2StackError("give either config or options, not both")
    inputs = [noisy] if isinstance(noisy, (str, os.PathLike, np.ndarray)) else list(noisy)
    if not inputs:
        raise Noise2StackError("no input stacks given")
    target_list = list(targets) if targets else None
    method = get_method(config.method)
    kind = method.target_kind(config)
    if kind != "self" and not target_list:
        what = "an independent noisy copy" if kind == "copy" else "the clean stack"
        raise Noise2StackError(f"--method {config.method} --mode {config.mode} needs --target: {what} of each input")
    if target_list and len(target_list) != len(inputs):
        raise Noise2StackError(f"{len(inputs)} input stack(s) but {len(target_list)} --target stack(s); give one per input")
    out = Path(out)
    from noise2stack.io.zarr_io import is_zarr_path

    stream = stream or any(not isinstance(p, np.ndarray) and is_zarr_path(p) for p in inputs)
    paths = [p for p in inputs + (target_list or []) + [val, val_target] if p is not None and not isinstance(p, np.ndarray)]
    for p in paths:
        if not is_zarr_path(p):
            check_readable(p)
        if _same_path(out, p):
            raise Noise2StackError(f"the model folder {out} is also an input; choose another --out")
    if out.exists():
        if not out.is_dir():
            raise Noise2StackError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise Noise2StackError(f"--out {out} exists and is not empty; pass --overwrite to replace it (or --resume it)")
    _check_parent(out)

    stacks = _stream_views(inputs) if stream else [_load(s, config.axes) for s in inputs]
    method.check(config)
    if method.needs_stack:
        for item, s in zip(inputs, stacks):
            if s.shape[0] == 1:
                name = "the array" if isinstance(item, np.ndarray) else str(item)
                raise Noise2StackError(
                    f"{name} is a single 2-D plane (axes {config.axes}, shape {s.shape[1:]}); "
                    f"{config.method} needs a stack of planes"
                )
    target_stacks = [_load(t, config.axes) for t in target_list] if target_list else None
    val_stacks = [_load(val, config.axes)] if val is not None else None
    val_targets = [_load(val_target, config.axes)] if val_target is not None else None
    info = {
        "training_data": {
            "inputs": [_file_record(p) for p in inputs],
            "targets": [_file_record(p) for p in target_list] if target_list else None,
            "val": _file_record(val) if val is not None else None,
            "val_target": _file_record(val_target) if val_target is not None else None,
        }
    }
    return fit(config, stacks, out, targets=target_stacks, val_inputs=val_stacks, val_targets=val_targets, progress=progress, info=info)


def _stream_views(inputs: Sequence[StackLike]) -> list:
    """One lazily read ``ZYX`` view per stack of every input (each index of T/C off the stack axis)."""
    import functools

    from noise2stack.data.streaming import StackView
    from noise2stack.io.zarr_io import inspect_volume, open_array
    from noise2stack.predict.chunked import loop_axes, resolve_stack_axis

    views = []
    for item in inputs:
        if isinstance(item, np.ndarray):
            raise Noise2StackError("streaming reads files; pass paths, not arrays")
        spec = inspect_volume(item)
        stack_axis = resolve_stack_axis(spec, None)
        loops = loop_axes(spec, stack_axis)
        for loop in np.ndindex(*[spec.size(a) for a in loops]):
            views.append(StackView(functools.partial(open_array, spec), spec.axes, stack_axis, dict(zip(loops, loop)), spec.shape))
    return views


def _resume(folder: Path, noisy, targets, val, val_target, progress: bool) -> Model:
    import json

    from noise2stack.model import VERSIONS_FILE
    from noise2stack.train import fit

    model = Model.load(folder)
    config = model.config
    try:
        record = json.loads((folder / VERSIONS_FILE).read_text(encoding="utf-8"))["training_data"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        raise Noise2StackError(f"{folder} does not record its training data; cannot resume") from None
    if noisy is None:
        noisy = [_from_record(r, folder) for r in record["inputs"]]
        targets = [_from_record(r, folder) for r in record["targets"]] if record.get("targets") else None
        val = _from_record(record["val"], folder) if record.get("val") else None
        val_target = _from_record(record["val_target"], folder) if record.get("val_target") else None
    inputs = [noisy] if isinstance(noisy, (str, os.PathLike, np.ndarray)) else list(noisy)
    stacks = [_load(s, config.axes) for s in inputs]
    return fit(
        config, stacks, folder,
        targets=[_load(t, config.axes) for t in targets] if targets else None,
        val_inputs=[_load(val, config.axes)] if val is not None else None,
        val_targets=[_load(val_target, config.axes)] if val_target is not None else None,
        progress=progress, resume=True, normalizer=model.normalizer,
    )


def load_model(model: str | os.PathLike | Model) -> Model:
    """A :class:`Model` from a model folder (or the model itself)."""
    if isinstance(model, Model):
        return model
    folder = Path(model)
    if not (folder / CONFIG_FILE).is_file() and folder.is_dir():
        raise Noise2StackError(f"{folder} is not a noise2stack model (no {CONFIG_FILE})")
    return Model.load(folder)


def predict(
    model: str | os.PathLike | Model,
    noisy: StackLike,
    out: str | os.PathLike | None = None,
    tile: int = 512,
    overlap: int | None = None,
    batch: int | None = None,
    axes: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    kspace: Sequence[str | os.PathLike] | None = None,
    tta: bool = False,
    stack_axis: str | None = None,
    chunk_planes: int = 32,
    scheduler: str = "threads",
    jobs: int = 1,
    pyramid: bool = False,
    channels: str = "separate",
):
    """Denoise a stack with a trained model.

    A Zarr / OME-Zarr input or a ``*.zarr`` output is predicted chunk by chunk instead (see
    :func:`predict_chunked`, which takes ``stack_axis``, ``chunk_planes``, ``scheduler``, ``jobs``,
    ``pyramid`` and ``channels``); the result is then a lazy Dask array over the output store.

    Parameters
    ----------
    model : path or Model
        A model folder written by :func:`train`.
    noisy : path or array
        The stack to denoise, axes ``axes`` (default: the axes the model was trained with).
    out : path, optional
        Where to write the float32 result (TIFF or .npy), in the input's axis order and units.
    tile, overlap, batch : int
        Tile core side (each tile also reads the network's context around it, so the result does
        not depend on the tiling, see :mod:`noise2stack.predict.tiling`), blending ramp between
        tiles (default 0), tiles per pass (default: 1 on CPU, 8 on a GPU).
    kspace : sequence of path, optional
        Sidecars of ``simulate --noise kspace``: after denoising, the measured frequencies are put
        back (spectral post-processing; two sidecars for two independent corruptions).
    tta : bool
        Test-time augmentation: the mean over the 8 rotations and flips, each undone (8x the time).

    Returns
    -------
    ndarray, shape (Z, Y, X), float32
    """
    from noise2stack.data.sampler import min_planes
    from noise2stack.io.zarr_io import is_zarr_path
    from noise2stack.predict import predict_stack

    if not isinstance(noisy, np.ndarray) and (is_zarr_path(noisy) or (out is not None and is_zarr_path(out))):
        if out is None:
            raise Noise2StackError("a Zarr input is predicted chunk by chunk into a Zarr output: give OUT.zarr")
        if kspace:
            raise Noise2StackError("--kspace needs the whole stack in memory; write a TIFF or .npy output instead")
        return predict_chunked(
            model, noisy, out, axes=axes, stack_axis=stack_axis, chunk_planes=chunk_planes, tile=tile, overlap=overlap,
            batch=batch, tta=tta, scheduler=scheduler, jobs=jobs, pyramid=pyramid, channels=channels,
            overwrite=overwrite, progress=progress,
        )
    if out is not None:
        out = _check_output(out, [noisy], overwrite)
    m = load_model(model)
    axes = axes or m.config.axes
    stack = _load(noisy, axes)
    if m.method.needs_stack and stack.shape[0] < min_planes(m.neighbors, m.include_center):
        raise Noise2StackError(
            f"a stack of {stack.shape[0]} plane(s) is too short for this model "
            f"({m.config.method}, {m.neighbors} neighbours); it needs at least {min_planes(m.neighbors, m.include_center)}"
        )
    if tile < 1 or (batch is not None and batch < 1):
        raise Noise2StackError("--tile and --batch must be positive")
    sidecars = []
    if kspace:
        from noise2stack.noise.kspace import read_sidecar

        sidecars = [read_sidecar(p) for p in kspace]
        for p, side in zip(kspace, sidecars):
            if side["mask"].shape != stack.shape:
                raise Noise2StackError(f"--kspace {p} is for a stack of shape {side['mask'].shape}, not {stack.shape} (axes {axes})")
    normalized = m.normalizer.normalize(stack)
    result = predict_stack(
        m.net, normalized, m.neighbors, m.include_center, tile=tile, overlap=overlap, batch=batch,
        channels_last=m.config.channels_last, progress=progress, tta=tta,
    )
    result = m.normalizer.denormalize(result)
    if sidecars:
        from noise2stack.noise.kspace import spectral_consistency

        result = spectral_consistency(result, sidecars)
    if out is not None:
        provenance = {
            "noise2stack": package_version(),
            "method": m.config.method,
            "mode": m.config.mode,
            "neighbors": m.config.neighbors,
            "seed": m.config.seed,
            "model_sha256": m.checksum(),
            "kspace_postprocessing": len(sidecars),
            "tta": tta,
        }
        write_stack(out, result, axes, metadata=provenance, reference=None if isinstance(noisy, np.ndarray) else noisy)
    return result


def channel_models(model: str | os.PathLike) -> list[Path]:
    """``[model]``, or its ``channel-0``, ``channel-1``, ... sub-folders (one model per channel)."""
    folder = Path(model)
    per_channel = []
    while (folder / f"channel-{len(per_channel)}" / CONFIG_FILE).is_file():
        per_channel.append(folder / f"channel-{len(per_channel)}")
    if per_channel:
        return per_channel
    if not (folder / CONFIG_FILE).is_file():
        load_model(folder)  # raises the one-line reason
    return [folder]


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
    channels: str = "separate",
    overwrite: bool = False,
    progress=True,
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
    chunk_planes, scheduler, jobs, pyramid
        See :func:`noise2stack.predict.chunked.predict_volume`.

    Returns
    -------
    dask.array.Array
        The output's full-resolution level, lazily.
    """
    import dask.array as da
    import zarr

    from noise2stack.io.zarr_io import IMAGE_ARRAY, inspect_volume
    from noise2stack.predict.chunked import predict_volume

    spec = inspect_volume(noisy, axes)
    store = predict_volume(
        channel_models(model), spec, out, stack_axis=stack_axis, chunk_planes=chunk_planes, tile=tile, overlap=overlap,
        batch=batch, tta=tta, channels=channels, scheduler=scheduler, jobs=jobs, pyramid=pyramid, overwrite=overwrite,
        progress=progress,
    )
    return da.from_zarr(zarr.open_array(str(Path(store) / IMAGE_ARRAY), mode="r"))


def evaluate(
    prediction: StackLike, reference: StackLike, normalize: str = "none", axes: str = "ZYX"
) -> dict:
    """PSNR, SSIM and NRMSE per plane and their means (see :mod:`noise2stack.metrics`)."""
    if normalize not in ("none", "care"):
        raise Noise2StackError(f"unknown --normalize {normalize!r}; use none or care")
    pred = _load(prediction, axes)
    ref = _load(reference, axes)
    result = evaluate_stack(pred, ref, normalize)  # type: ignore[arg-type]
    result["noise2stack"] = package_version()
    return result


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
    from noise2stack.noise import kspace

    if noise == "kspace" and keep is None:
        raise Noise2StackError("--noise kspace needs --keep (the kept fraction of frequencies, e.g. 0.1)")
    if noise == "kspace" and not 0 < keep <= 1:
        raise Noise2StackError(f"--keep must be in (0, 1], got {keep}")
    if out is not None:
        out = _check_output(out, [clean], overwrite)
        if noise == "kspace":
            _check_output(sidecar_path(out), [clean], overwrite)
    array = clean if isinstance(clean, np.ndarray) else read_array(clean)
    axes = axes or _native_axes(array)
    stack = _load(array, axes)
    if noise == "kspace":
        noisy, sidecar = kspace.undersample(stack, keep, seed)
    else:
        noisy = add_noise(stack, noise, sigma=sigma, peak=peak, seed=seed)
    if out is not None:
        provenance = {"noise2stack": package_version(), "noise": noise, "sigma": sigma, "peak": peak, "keep": keep, "seed": seed}
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
    from noise2stack.filters import denoise_stack

    if out is not None:
        out = _check_output(out, [noisy], overwrite)
    array = noisy if isinstance(noisy, np.ndarray) else read_array(noisy)
    axes = axes or _native_axes(array)
    stack = _load(array, axes)
    result = denoise_stack(stack, method, sigma=sigma, average=average_neighbors, progress=progress, **options)
    if out is not None:
        meta = {"noise2stack": package_version(), "method": method, "sigma": sigma, "average_neighbors": average_neighbors}
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
) -> dict:
    """Compare methods on a clean stack with simulated noise (see :mod:`noise2stack.compare`)."""
    from noise2stack.compare import compare as run_compare

    if normalize not in ("none", "care"):
        raise Noise2StackError(f"unknown --normalize {normalize!r}; use none or care")
    if not budget > 0:
        raise Noise2StackError("--budget must be > 0 seconds")
    from noise2stack.compare import OUTPUT_FILES

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise Noise2StackError(f"--out {out} exists and is not a folder")
    if not overwrite and any((out / name).exists() for name in OUTPUT_FILES):
        raise Noise2StackError(f"{out} holds an earlier comparison; pass --overwrite to replace it")
    stack = _load(clean, axes).astype(np.float32)
    add_noise(stack[:1], seed=seed, **noise)  # check the noise options before any work
    return run_compare(stack, out, noise, budget=budget, seed=seed, methods=methods, normalize=normalize, progress=progress, title=title)
