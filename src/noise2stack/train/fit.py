"""Train a model on normalised stacks: :func:`fit` is what ``noise2stack train`` runs."""

from __future__ import annotations

import copy
import datetime
import functools
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
import torch.utils.deterministic
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import DataLoader

from noise2stack.config import TrainConfig, config_to_yaml
from noise2stack.data.normalize import Normalizer, fit_channel_normalizer, fit_normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.data.sampler import min_planes
from noise2stack.data.streaming import LocalPlanes, NormalizedStack, PlaneCache, fit_streaming_normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import write_text
from noise2stack.methods import METHODS, get_method
from noise2stack.model import CHECKPOINT_FILE, CONFIG_FILE, MODEL_FILES, WEIGHTS_FILE, Model, save_weights
from noise2stack.progress import ProgressLog, as_progress_log
from noise2stack.resources import autocast, check_memory, check_precision, network_bytes, resolve_precision
from noise2stack.train.batches import EpochStepSampler, TrainBatches, draw_batch, fixed_batches
from noise2stack.train.callbacks import (
    BudgetProgressBar,
    CheckpointCallback,
    EpochLogCallback,
    FitEpochsToBudget,
    ModelFolderCallback,
)
from noise2stack.train.checkpoint import SafeCheckpointIO
from noise2stack.train.module import DenoiseModule


def split_planes(n_planes: Sequence[int], val_fraction: float) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split (stack, plane) pairs into training and validation planes.

    Every ``round(1 / val_fraction)``-th plane, starting in the middle of that period, is held out,
    so validation planes are spread evenly through each stack and never at its very ends.
    A stack of one plane keeps it for training.
    """
    train: list[tuple[int, int]] = []
    val: list[tuple[int, int]] = []
    period = round(1 / val_fraction) if val_fraction > 0 else 0
    for s, z in enumerate(n_planes):
        for i in range(z):
            held = period > 0 and z > 1 and i % period == period // 2 and i < z
            (val if held else train).append((s, i))
    return train, val


_LIGHTNING_PRECISION: dict[str, Any] = {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed"}


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # DDP: val_loss is the same on every rank (same batches, synced weights); the train loss logged is rank 0's
    warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
    warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")


def budget_steps_per_epoch(max_time: float, seconds_per_step: float, default: int, epochs: int = 10) -> int:
    """Steps per epoch for a wall-clock budget: about ``epochs`` epochs, 10 to ``default`` steps each.

    The epoch count is re-fitted to the time left at every epoch start and epochs stay whole, so one
    epoch is the grain of the unused budget; and an estimate of one epoch is never re-fitted at all
    (measured: Noise2Void with 100-step epochs stopped after 29 s of a 60 s budget when the timed
    steps ran on a loaded machine). About ten epochs per budget bound both to a tenth of it.
    """
    steps = 0.97 * max_time / max(seconds_per_step, 1e-9)
    return int(min(max(steps // epochs, 10), default))


def _seconds_per_step(module: DenoiseModule, source: PatchSource, config: TrainConfig) -> float:
    """Seconds per optimisation step, timed on a throwaway copy of the network."""
    probe = copy.deepcopy(module)
    optimizer = probe.configure_optimizers()  # the optimiser training will use, fused or not
    batch = draw_batch(
        source, functools.partial(probe.method.transform, config=config), config.data.batch, np.random.default_rng(0)
    )
    times = []
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    for _ in range(5):  # the first steps are slow (kernel selection, allocator warm-up)
        t0 = time.perf_counter()
        with autocast(device_type, config.training.precision):  # timed as Lightning will run it
            loss = probe._loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return float(np.min(times[2:])) + 2e-3  # + data drawing and Lightning's bookkeeping


def check_joint(method, config: TrainConfig, inputs: Sequence[np.ndarray]) -> None:
    """Refuse, in one line, joint channels (``config.data.joint_channels > 1``) that cannot be trained.

    Joint stacks are (Z, C, Y, X) arrays with C = ``joint_channels``; other stacks are (Z, Y, X).
    """
    joint = config.data.joint_channels
    if joint == 1:
        bad = [s.shape for s in inputs if len(s.shape) != 3]
        if bad:
            raise Noise2StackError(
                f"a stack of shape {bad[0]} has channels; train them with `channels` joint or separate"
            )
        return
    if not method.capabilities.joint_channels:
        raise Noise2StackError(
            f"`channels` joint works with one-plane-out methods ({', '.join(n for n, m in METHODS.items() if m.capabilities.joint_channels)}), not `method` {config.method}"
        )
    if config.data.background:
        raise Noise2StackError(
            "`channels` joint does not take `background`; subtract it per channel first or use `channels` separate"
        )
    for s in inputs:
        if len(s.shape) != 4 or s.shape[1] != joint:
            raise Noise2StackError(
                f"`channels` joint with {joint} channels needs (Z, {joint}, Y, X) stacks, got shape {tuple(s.shape)}"
            )
        if not isinstance(s, np.ndarray):
            raise Noise2StackError(
                "`channels` joint trains from stacks in memory; streaming reads one channel at a time"
            )


@dataclass
class PreparedData:
    """Normalised training and validation data of one run (stage 1 of :func:`fit`)."""

    normalizer: Normalizer
    noise_model: object | None
    train_source: PatchSource
    val_source: PatchSource | None
    local: object | None  # LocalPlanes: chunk-local batches when streaming exceeds the plane cache

    @property
    def has_validation(self) -> bool:
        return self.val_source is not None


def fit(
    config: TrainConfig,
    inputs: Sequence,
    out_dir: str | Path,
    targets: Sequence[np.ndarray] | None = None,
    val_inputs: Sequence[np.ndarray] | None = None,
    val_targets: Sequence[np.ndarray] | None = None,
    progress: bool | ProgressLog = True,
    info: dict | None = None,
    resume: bool = False,
    normalizer: Normalizer | None = None,
    noise_model=None,
    init_state: dict | None = None,
) -> Model:
    """Train a model and write its folder, in four stages: prepare the data, build the module, plan
    the budget, run the trainer.

    Parameters
    ----------
    config : TrainConfig
    inputs : sequence of ndarray, each (Z, Y, X)
        Noisy stacks (any real dtype).
    out_dir : path
        Model folder to write.
    targets : sequence of ndarray, optional
        Target stacks matching ``inputs`` one to one (copy mode: independent noisy copies).
    val_inputs, val_targets : sequence of ndarray, optional
        Validation stacks; default: planes held out of ``inputs`` (``config.data.val_fraction``).
    progress : bool or ProgressLog
        True: a progress bar; a :class:`~noise2stack.progress.ProgressLog` also (or instead) logs
        one event per epoch.
    info : dict, optional
        Provenance stored in ``versions.json`` (e.g. the training files).
    resume : bool
        Continue from ``out_dir/checkpoint.safetensors`` (same data, config and normaliser as the
        interrupted run), ending with the weights an uninterrupted run would have.
    normalizer : Normalizer, optional
        Statistics to use instead of computing them (resume uses the stored ones).
    noise_model : HistogramNoiseModel, optional
        Probabilistic methods: the raw-unit noise model; default: the one the config names.
    init_state : dict, optional
        Network weights to start from (``train --init``); same network, checked by the caller.

    Returns
    -------
    Model
        With the best weights loaded.
    """
    _quiet_lightning()
    method = get_method(config.method)
    check_training_data(method, config, inputs, targets, val_inputs)
    data = prepare_data(method, config, inputs, targets, val_inputs, val_targets, normalizer, noise_model)
    precision = resolve_precision(config.training.precision)
    check_precision(precision)
    if precision != config.training.precision:  # the folder records the arithmetic actually used
        config = config.updated(training={"precision": precision})
    model, module = build_module(config, data, init_state)
    if resume and (config.training.epochs is None or not (Path(out_dir) / CHECKPOINT_FILE).is_file()):
        raise Noise2StackError(f"{out_dir} has no checkpoint to resume from")
    fitted_to_time = config.training.epochs is None and config.training.max_time is not None
    model.config = plan_budget(config, module, data)
    return run_trainer(model, module, data, Path(out_dir), progress, info, resume, fitted_to_time)


def check_training_data(method, config: TrainConfig, inputs, targets, val_inputs) -> None:
    """Refuse, in one line, a config or stacks this method cannot train on."""
    method.validate(config)
    check_joint(method, config, inputs)
    neighbors = config.algorithm.neighbors
    need = min_planes(neighbors, method.include_center(config))
    for s in list(inputs) + list(val_inputs or []):
        if method.capabilities.needs_stack and s.shape[0] < need:
            raise Noise2StackError(
                f"a stack of {s.shape[0]} plane(s) is too short for {config.method} with "
                f"`neighbors` {neighbors}: it needs at least {need} planes"
            )
    if method.target_kind(config) != "self":
        if targets is None or len(targets) != len(inputs):
            raise Noise2StackError(
                f"`method` {config.method} `mode` {config.algorithm.mode} needs one `targets` stack per input"
            )
        for s, t in zip(inputs, targets):
            if s.shape != t.shape:
                raise Noise2StackError(f"the target's shape {t.shape} differs from the input's {s.shape}")


def prepare_data(
    method, config: TrainConfig, inputs, targets, val_inputs, val_targets, normalizer, noise_model
) -> PreparedData:
    """Stage 1: the method's view of the stacks, normalisation, the plane split, the patch sources."""
    if method.capabilities.needs_noise_model and noise_model is None:
        noise_model = method.load_noise_model(config)
    inputs = method.prepare_stacks(config, noise_model, list(inputs), "the training data")
    if val_inputs is not None:
        val_inputs = method.prepare_stacks(config, noise_model, list(val_inputs), "the validation data")
    torch.manual_seed(config.training.seed)
    target_kind = method.target_kind(config)
    streaming = any(not isinstance(s, np.ndarray) for s in inputs)  # StackViews read from a store
    if streaming and (target_kind != "self" or val_inputs is not None):
        raise Noise2StackError("streaming from a store supports self-supervised training on held-out planes only")
    normalizer, norm_in = _normalize_inputs(config, inputs, normalizer, streaming)
    norm_tgt = norm_in if target_kind == "self" else [normalizer.normalize(t) for t in targets]
    if target_kind == "copy":  # two noisy copies serve both ways: A predicts B and B predicts A
        norm_in, norm_tgt = norm_in + norm_tgt, norm_tgt + norm_in
    if val_inputs is not None:
        train_planes = [(s, i) for s, st in enumerate(norm_in) for i in range(st.shape[0])]
        v_in, v_tgt = _validation_stacks(normalizer, target_kind, val_inputs, val_targets)
        val_planes = [(s, i) for s, st in enumerate(v_in) for i in range(st.shape[0])]
    else:
        train_planes, val_planes = split_planes([s.shape[0] for s in norm_in], config.data.val_fraction)
        v_in, v_tgt = norm_in, norm_tgt
    if method.capabilities.interior_planes_only:  # only planes whose two neighbours are inside the stack
        train_planes = [(s, i) for s, i in train_planes if 0 < i < norm_in[s].shape[0] - 1]
        val_planes = [(s, i) for s, i in val_planes if 0 < i < v_in[s].shape[0] - 1]
    args = dict(
        neighbors=config.algorithm.neighbors, include_center=method.include_center(config), patch=config.data.patch
    )
    train_source = PatchSource(norm_in, norm_tgt, train_planes, augmentation=config.data.augmentation, **args)
    val_source = PatchSource(v_in, v_tgt, val_planes, augmentation="none", **args) if val_planes else None
    local = None
    if streaming and LocalPlanes.needed(train_planes, norm_in):
        local = LocalPlanes(
            train_planes,
            norm_in,
            config.algorithm.neighbors,
            config.data.patch,
            config.data.batch,
            config.training.seed,
        )
    return PreparedData(normalizer, noise_model, train_source, val_source, local)


def _normalize_inputs(config: TrainConfig, inputs, normalizer, streaming: bool) -> tuple[Normalizer, list]:
    """The normaliser (fitted unless given) and the normalised stacks; a store's StackViews stream through a cache."""
    data = config.data
    if streaming:
        if normalizer is None:
            normalizer = fit_streaming_normalizer(inputs, data.normalization, data.percentiles)
        cache = PlaneCache(data.stream_cache_mb * 2**20)  # one bound for all stacks of a process
        return normalizer, [NormalizedStack(s, normalizer, cache) for s in inputs]
    if normalizer is None and data.joint_channels > 1:
        normalizer = fit_channel_normalizer(inputs, data.normalization, data.percentiles)
    elif normalizer is None:
        normalizer = fit_normalizer(inputs, data.normalization, data.percentiles, data.background)
    return normalizer, [normalizer.normalize(s) for s in inputs]


def _validation_stacks(normalizer, target_kind: str, val_inputs, val_targets) -> tuple[list, list]:
    v_in = [normalizer.normalize(s) for s in val_inputs]
    if target_kind == "self":
        return v_in, v_in
    if val_targets is None or len(val_targets) != len(val_inputs):
        raise Noise2StackError("a validation stack needs its own target stack (`val_target`)")
    v_tgt = [normalizer.normalize(t) for t in val_targets]
    if target_kind == "copy":
        return v_in + v_tgt, v_tgt + v_in
    return v_in, v_tgt


def build_module(config: TrainConfig, data: PreparedData, init_state: dict | None) -> tuple[Model, DenoiseModule]:
    """Stage 2: the model (network, bound method) and the Lightning module around it."""
    model = Model(config, data.normalizer, noise_model=data.noise_model)
    if init_state is not None:  # fine-tuning (train --init): start from another model's weights
        model.net.load_state_dict(init_state, strict=True)
    batch, patch = config.data.batch, config.data.patch
    check_memory(
        network_bytes(model.net, batch, patch, patch, training=True),
        f"training with `batch` {batch} `patch` {patch}",
        "`batch` or `patch`",
    )
    module = DenoiseModule(
        model.net,
        model.method,
        config.training.lr or type(config.algorithm).default_lr,  # the root config fills it in; typed Optional
        epochs=1,
        channels_last=config.training.channels_last,
        steps_per_epoch=config.training.steps_per_epoch,
        warmup_steps=config.training.warmup_steps,
    )
    return model, module


def plan_budget(config: TrainConfig, module: DenoiseModule, data: PreparedData) -> TrainConfig:
    """Stage 3: epochs and steps per epoch; with a wall-clock budget, as many as fit in it (timed).

    Returns the config with ``training.epochs`` (and, when fitted, ``steps_per_epoch``) set.
    """
    training = config.training
    if training.devices > 1 and training.epochs is None:
        # Fitting the epoch count to --max-time is timed per process; ranks could disagree and hang.
        raise Noise2StackError(
            f"`devices` {training.devices} needs `epochs` (the epoch count cannot be fitted to `max_time` across devices)"
        )
    if training.epochs is not None:
        module.epochs = training.total_epochs()
        return config
    epochs, steps = 100, training.steps_per_epoch
    if training.max_time is not None:
        per_step = _seconds_per_step(module, data.train_source, config)
        if "steps_per_epoch" not in training.model_fields_set:
            steps = budget_steps_per_epoch(training.max_time, per_step, training.steps_per_epoch)
            module.steps_per_epoch = steps
        val_cost = data.has_validation and config.data.val_patches / config.data.batch / 3
        epochs = max(1, int(0.97 * training.max_time / (per_step * (steps + val_cost))))
    module.epochs = epochs
    return config.updated(training={"epochs": epochs, "steps_per_epoch": steps})


def run_trainer(
    model: Model,
    module: DenoiseModule,
    data: PreparedData,
    out_dir: Path,
    progress,
    info: dict | None,
    resume: bool,
    fitted_to_time: bool,
) -> Model:
    """Stage 4: write the folder, run Lightning, load the best weights.

    ``fitted_to_time``: the epoch count was fitted to the budget, so it is re-fitted at every epoch start.
    """
    config = model.config
    if not resume:
        # All input is checked by now: replace an earlier model's files (only those; the caller
        # refused a non-empty folder without --overwrite), config and statistics first.
        for name in MODEL_FILES:
            (out_dir / name).unlink(missing_ok=True)
        model.save(out_dir, extra_info=info)
    loaders = _loaders(model, data)
    folder_cb = ModelFolderCallback(out_dir)
    sampler = loaders[0].sampler
    assert isinstance(sampler, EpochStepSampler)
    checkpoint_cb = CheckpointCallback(out_dir, sampler, config.training.checkpoint_seconds)
    log = as_progress_log(progress)
    callbacks = _callbacks(model, out_dir, folder_cb, checkpoint_cb, log, fitted_to_time)
    threads_before = torch.get_num_threads()
    trainer = _trainer(config, out_dir, callbacks, log.bar)
    # deterministic=True also makes torch fill every new tensor with NaN, a check for kernels that
    # read memory they never wrote; ours do not, results stay bitwise reproducible without it, and
    # the filling cost 5 % of a training step (benchmarks/speed/results/training_levers.md).
    fill_before = torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    checkpoint = out_dir / CHECKPOINT_FILE
    try:
        trainer.fit(
            module,
            train_dataloaders=loaders[0],
            val_dataloaders=loaders[1],
            ckpt_path=str(checkpoint) if resume else None,
            weights_only=True,
        )
    finally:
        torch.set_num_threads(threads_before)
        torch.utils.deterministic.fill_uninitialized_memory = fill_before  # type: ignore[attr-defined]
    distributed = config.training.devices > 1
    if folder_cb.best_epoch is None and not distributed:  # stopped (max_time or a signal) before the first epoch ended
        save_weights(module.net, out_dir / WEIGHTS_FILE)
    trained = Model.load(out_dir, WEIGHTS_FILE)
    trained.stopped_by_signal = checkpoint_cb.stop_signal
    best = None if folder_cb.best_epoch is None else folder_cb.best_epoch + 1
    log.event(
        "train_end",
        None,
        epochs=len(folder_cb.rows),
        best_epoch=best,
        folder=str(out_dir),
        stopped_by_signal=checkpoint_cb.stop_signal,
    )
    return trained


def _loaders(model: Model, data: PreparedData) -> tuple[DataLoader, DataLoader | None]:
    """Training batches (a pure function of seed and step, resumable) and fixed validation batches."""
    config = model.config
    transform = functools.partial(model.method.transform, config=config)
    batch, seed, workers = config.data.batch, config.training.seed, config.data.workers
    val_loader: DataLoader | None = None
    if data.val_source is not None:
        fixed = fixed_batches(data.val_source, transform, config.data.val_patches, batch, seed)
        val_loader = DataLoader(fixed, batch_size=None)  # type: ignore[arg-type]  # a list of batches serves
    train_loader = DataLoader(
        TrainBatches(data.train_source, transform, batch, seed, data.local),
        batch_size=None,
        sampler=EpochStepSampler(config.training.steps_per_epoch),
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    return train_loader, val_loader


def _callbacks(model: Model, out_dir: Path, folder_cb, checkpoint_cb, log: ProgressLog, fitted_to_time: bool) -> list:
    training = model.config.training
    callbacks: list = [folder_cb, checkpoint_cb]
    if fitted_to_time and training.max_time is not None:

        def record_epochs(epochs: int) -> None:
            model.config = model.config.updated(training={"epochs": epochs})
            write_text(out_dir / CONFIG_FILE, config_to_yaml(model.config))

        callbacks.insert(0, FitEpochsToBudget(training.max_time, record_epochs))
    callbacks.append(EpochLogCallback(log, folder_cb, training.max_time))
    if log.bar:
        callbacks.append(BudgetProgressBar(training.total_epochs() * training.steps_per_epoch, training.max_time))
    return callbacks


def _trainer(config: TrainConfig, out_dir: Path, callbacks: list, bar: bool) -> L.Trainer:
    """The Lightning trainer: deterministic, no Lightning checkpoints (ours are safetensors), DDP for devices > 1."""
    training = config.training
    return L.Trainer(
        accelerator="auto",
        devices=training.devices,
        strategy=_strategy(training.devices),
        precision=_LIGHTNING_PRECISION[training.precision],
        max_epochs=training.total_epochs(),
        max_time=datetime.timedelta(seconds=training.max_time) if training.max_time else None,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=bar,
        callbacks=callbacks,
        num_sanity_val_steps=0,
        deterministic=True,
        use_distributed_sampler=False,
        default_root_dir=str(out_dir),
        log_every_n_steps=max(1, min(50, training.steps_per_epoch)),
        plugins=[SafeCheckpointIO()],
    )


def _strategy(devices: int):
    if devices == 1:
        return "auto"
    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        # A forked child that enters an OpenMP parallel region the parent had started deadlocks
        # (measured: --devices 2 hung with OMP_NUM_THREADS set, and after Dask tests). One
        # intra-op thread per process never enters one, and N processes share the cores anyway.
        # The caller restores the thread count after training.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // devices))
    # CPU: forked processes talking gloo (no pickling, no re-run of the command); GPUs: spawned, NCCL.
    return DDPStrategy(process_group_backend="nccl" if on_gpu else "gloo", start_method="spawn" if on_gpu else "fork")
