"""From a caller's arguments to :func:`~noise2stack.train.fit.fit`: the config, the checked paths, the stacks.

:func:`train_model` is what ``api.train`` routes to; :func:`resume_model` continues an interrupted
run from what its folder records. Everything here checks before anything is written.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from noise2stack.config import TrainConfig, make_config, merge, method_named, nest, read_mapping
from noise2stack.data.streaming import StackView
from noise2stack.errors import Noise2StackError
from noise2stack.io.paths import StackLike, check_parent, file_record, file_sha256, load_zyx, same_path
from noise2stack.io.stacks import check_readable
from noise2stack.io.zarr_io import inspect_volume, is_zarr_path, open_array
from noise2stack.methods import DEFAULT_METHOD, get_method
from noise2stack.model import CONFIG_FILE, VERSIONS_FILE, Model
from noise2stack.predict.chunked import loop_axes, resolve_stack_axis
from noise2stack.train.fit import fit

CHANNEL_MODES = ("separate", "joint")


def load_model(model: str | os.PathLike | Model) -> Model:
    """A :class:`Model` from a model folder (or the model itself)."""
    if isinstance(model, Model):
        return model
    folder = Path(model)
    if not (folder / CONFIG_FILE).is_file() and folder.is_dir():
        raise Noise2StackError(f"{folder} is not a noise2stack model (no {CONFIG_FILE})")
    return Model.load(folder)


def build_config(
    config: TrainConfig | None, config_file: str | os.PathLike | None, options: dict[str, Any], start: Model | None
) -> TrainConfig:
    """The run's config: ``config`` as given, or the file's values, then ``options`` (flat, not None), over
    what a fine-tuned model's start fixes (its method section: the network's shape)."""
    options = {k: v for k, v in options.items() if v is not None}
    if config is not None:
        if options:
            raise Noise2StackError("give either config or options, not both")
        return config
    base = {"algorithm": start.config.algorithm.model_dump()} if start is not None else {}
    file_values = read_mapping(config_file) if config_file else {}
    method = (
        options.get("method") or method_named(file_values) or base.get("algorithm", {}).get("method", DEFAULT_METHOD)
    )
    if config_file:  # a file's method replaces the start's section; init_state refuses that below
        base = merge(base, nest(file_values, method))
    return make_config(str(config_file or "options"), **merge(base, nest(options, method)))


def init_state(start: Model, config: TrainConfig) -> dict:
    """The starting weights for ``init``, after checking that they fit ``config``'s network."""
    method = get_method(config.method)

    def describe(cfg: TrainConfig, m) -> str:
        options = "".join(f", {k} {v}" for k, v in m.net_options(cfg).items())
        options += ", residual" if m.residual_channels(cfg) else ""
        net = cfg.algorithm.net
        return f"`method` {cfg.method} `net` {net} with {m.in_channels(cfg)} input channel(s){options}"

    theirs, ours = describe(start.config, start.method), describe(config, method)
    if start.folder is None:  # pragma: no cover  (load_model always sets it)
        raise Noise2StackError("`init` needs a model loaded from its folder (its weights file is recorded)")
    if theirs != ours or start.method.residual_channels(start.config) != method.residual_channels(config):
        raise Noise2StackError(f"`init` {start.folder} is {theirs}; this training is {ours}: they must match")
    return {k: v.detach().clone() for k, v in start.net.state_dict().items()}


def check_model_folder(out: Path, paths: Sequence[str | os.PathLike], overwrite: bool) -> None:
    """Refuse an output folder that is an input, a file, or not empty (without ``overwrite``)."""
    for p in paths:
        if not is_zarr_path(p):
            check_readable(p)
        if same_path(out, p):
            raise Noise2StackError(f"the model folder {out} is also an input; choose another `out`")
    if out.exists():
        if not out.is_dir():
            raise Noise2StackError(f"`out` {out} exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise Noise2StackError(
                f"`out` {out} exists and is not empty; pass `overwrite` to replace it (or `resume` it)"
            )
    check_parent(out)


def stream_views(inputs: Sequence[StackLike]) -> list[StackView]:
    """One lazily read ``ZYX`` view per stack of every input (each index of T/C off the stack axis)."""
    views = []
    for item in inputs:
        if isinstance(item, np.ndarray):
            raise Noise2StackError("streaming reads files; pass paths, not arrays")
        spec = inspect_volume(item)
        stack_axis = resolve_stack_axis(spec, None)
        loops = loop_axes(spec, stack_axis)
        for loop in np.ndindex(*[spec.size(a) for a in loops]):
            opener = functools.partial(open_array, spec)
            views.append(StackView(opener, spec.axes, stack_axis, dict(zip(loops, loop)), spec.shape))
    return views


def training_record(inputs, targets, val, val_target) -> dict:
    """What ``versions.json`` records of the training data (``resume`` reads it back)."""
    return {
        "training_data": {
            "inputs": [file_record(p) for p in inputs],
            "targets": [file_record(p) for p in targets] if targets else None,
            "val": file_record(val) if val is not None else None,
            "val_target": file_record(val_target) if val_target is not None else None,
        }
    }


def check_planes(method, config: TrainConfig, inputs: Sequence[StackLike], stacks: Sequence) -> None:
    """Refuse single 2-D planes for a method that takes neighbours from a stack."""
    if not method.capabilities.needs_stack:
        return
    for item, s in zip(inputs, stacks):
        if s.shape[0] == 1:
            name = "the array" if isinstance(item, np.ndarray) else str(item)
            raise Noise2StackError(
                f"{name} is a single 2-D plane (axes {config.data.axes}, shape {s.shape[1:]}); "
                f"{config.method} needs a stack of planes"
            )


def check_targets(method, config: TrainConfig, inputs: list, targets: list | None) -> None:
    kind = method.target_kind(config)
    if kind != "self" and not targets:
        what = "an independent noisy copy" if kind == "copy" else "the clean stack"
        raise Noise2StackError(
            f"`method` {config.method} `mode` {config.algorithm.mode} needs `targets`: {what} of each input"
        )
    if targets and len(targets) != len(inputs):
        raise Noise2StackError(
            f"{len(inputs)} input stack(s) but {len(targets)} `targets` stack(s); give one per input"
        )


def record_path(record: dict, folder: Path) -> str:
    """A recorded training file, refused when it is gone or changed since training started."""
    if "path" not in record:
        raise Noise2StackError(f"{folder} was trained on in-memory arrays; pass the same arrays again to resume")
    path = record["path"]
    check_readable(path)
    if file_sha256(path) != record.get("sha256"):
        raise Noise2StackError(f"{path} changed since training started; resuming would train on other data")
    return path


def resume_model(folder: Path, noisy, targets, val, val_target, progress) -> Model:
    """Continue the interrupted training in ``folder`` (on the recorded files unless others are given)."""
    model = Model.load(folder)
    axes = model.config.data.axes
    try:
        record = json.loads((folder / VERSIONS_FILE).read_text(encoding="utf-8"))["training_data"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        raise Noise2StackError(f"{folder} does not record its training data; cannot resume") from None
    if noisy is None:
        noisy = [record_path(r, folder) for r in record["inputs"]]
        targets = [record_path(r, folder) for r in record["targets"]] if record.get("targets") else None
        val = record_path(record["val"], folder) if record.get("val") else None
        val_target = record_path(record["val_target"], folder) if record.get("val_target") else None
    return fit(
        model.config,
        [load_zyx(s, axes) for s in as_list(noisy)],
        folder,
        targets=[load_zyx(t, axes) for t in targets] if targets else None,
        val_inputs=[load_zyx(val, axes)] if val is not None else None,
        val_targets=[load_zyx(val_target, axes)] if val_target is not None else None,
        progress=progress,
        resume=True,
        normalizer=model.normalizer,
        noise_model=model.noise_model,
    )


def as_list(noisy) -> list:
    return [noisy] if isinstance(noisy, (str, os.PathLike, np.ndarray)) else list(noisy)


def train_model(
    noisy,
    out,
    *,
    config: TrainConfig | None = None,
    targets=None,
    val=None,
    val_target=None,
    config_file=None,
    overwrite: bool = False,
    progress=True,
    init=None,
    renormalize: bool = False,
    stream: bool = False,
    channels: str = "separate",
    options: dict[str, Any] | None = None,
) -> Model | list[Model]:
    """``api.train`` without ``resume``: see its parameters (``options``: flat training options)."""
    if out is None:
        raise Noise2StackError("`out` MODEL_DIR is required")
    if noisy is None:
        raise Noise2StackError("no input stacks given")
    if renormalize and init is None:
        raise Noise2StackError("`renormalize` only applies with `init`")
    if channels not in CHANNEL_MODES:
        raise Noise2StackError(f"unknown `channels` {channels!r}; use separate or joint")
    start = load_model(init) if init is not None else None
    config = build_config(config, config_file, options or {}, start)
    state = None
    if start is not None:
        state = init_state(start, config)
        record = {"path": str(Path(str(start.folder)).resolve()), "sha256": str(start.checksum())}
        config = config.updated(training={"init_from": record})
    inputs, target_list = as_list(noisy), list(targets) if targets else None
    if not inputs:
        raise Noise2StackError("no input stacks given")
    method = get_method(config.method)
    check_targets(method, config, inputs, target_list)
    out = Path(out)
    if start is not None and start.folder is not None and same_path(out, start.folder):
        raise Noise2StackError(f"`init` {start.folder} is also `out`; write the fine-tuned model to another folder")
    stream = stream or any(not isinstance(p, np.ndarray) and is_zarr_path(p) for p in inputs)
    paths = [p for p in inputs + (target_list or []) + [val, val_target] if p is not None]
    check_model_folder(out, [p for p in paths if not isinstance(p, np.ndarray)], overwrite)
    axes = config.data.axes
    if "C" in axes and stream:
        raise Noise2StackError("streaming training reads the axes from the store; leave C out of `axes`")
    stacks = stream_views(inputs) if stream else [load_zyx(s, axes) for s in inputs]
    if "C" in axes:
        n_channels = _channel_count(stacks)
        if channels == "separate":
            per_channel = dict(targets=target_list, val=val, val_target=val_target, init=init, renormalize=renormalize)
            return train_separate(stacks, n_channels, out, config, progress, **per_channel)
        config = config.updated(data={"joint_channels": n_channels})
    elif channels == "joint":
        raise Noise2StackError(f"`channels` joint needs a channel axis: give `axes` with C (got {axes})")
    method.validate(config)
    check_planes(method, config, inputs, stacks)
    return fit(
        config,
        stacks,
        out,
        targets=[load_zyx(t, axes) for t in target_list] if target_list else None,
        val_inputs=[load_zyx(val, axes)] if val is not None else None,
        val_targets=[load_zyx(val_target, axes)] if val_target is not None else None,
        progress=progress,
        info=training_record(inputs, target_list, val, val_target),
        normalizer=start.normalizer if start is not None and not renormalize else None,
        init_state=state,
    )


def _channel_count(stacks: Sequence) -> int:
    counts = sorted({s.shape[1] for s in stacks})
    if len(counts) != 1:
        raise Noise2StackError(f"the input stacks have different channel counts {counts}; give stacks of one count")
    return counts[0]


def train_separate(stacks, n_channels: int, out: Path, config: TrainConfig, progress, **given) -> list[Model]:
    """``channels="separate"``: one model per channel, in ``out/channel-0``, ``out/channel-1``, ...

    (the layout prediction reads); ``stacks`` are (Z, C, Y, X) arrays, ``given`` the other
    arguments of :func:`train_model` (``targets``, ``val``, ``val_target``, ``init``, ``renormalize``).
    """
    axes = config.data.axes
    single = config.updated(data={"axes": axes.replace("C", "")})
    out.mkdir(exist_ok=True)

    def channel(item, c: int):
        return None if item is None else load_zyx(item, axes)[:, c]

    models: list[Model] = []
    for c in range(n_channels):
        targets = [channel(t, c) for t in given["targets"]] if given["targets"] else None
        model = train_model(
            [s[:, c] for s in stacks],
            out / f"channel-{c}",
            config=single,
            targets=targets,
            val=channel(given["val"], c),
            val_target=channel(given["val_target"], c),
            overwrite=True,
            progress=progress,
            init=given["init"],
            renormalize=given["renormalize"],
        )
        assert isinstance(model, Model)  # one channel: one model
        models.append(model)
    return models
