"""Where a training step's time goes, and what the speed levers buy (issue 13, item 3).

    python -m benchmarks.speed.profile_step [--steps 30] [--rounds 2] [--smoke] [--name profile_step]

Noise2Void, Table S1 U-Net, 64 x 64 patches, batch 16, on the ISBI EM train volume: the same set-up as
races.peers. Times, per step, side by side in one run (variants interleaved ``--rounds`` times,
median of the rounds):

* drawing a batch (patch sampling, augmentation, blind-spot masking, stacking);
* the optimisation step alone (forward, masked loss, backward, Adam) in float32, default layout and
  channels_last; with bf16 autocast on CPU; and with ``torch.compile``, whose warm-up is reported;
* the whole package step (``api.train``, Lightning and everything), timed between ``training_step``
  calls, in float32 and at the default ``precision="auto"``.

Writes ``speed/results/<--name>.md`` (one per CPU kind, say). ``--smoke``: 6 steps, 1 round.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import (
    EM_TRAIN,
    cpu_model,
    flags_text,
    load_stack,
    markdown_table,
    training_step_times,
    write_result,
)
from noise2stack import api
from noise2stack.config import TrainConfig  # internal (this and below): the package's batches and step
from noise2stack.data.normalize import fit_normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.methods import get_method
from noise2stack.nets import build_net
from noise2stack.train.batches import draw_batch
from noise2stack.train.module import DenoiseModule

BATCH, PATCH = 16, 64
DRAW = "drawing a batch (data, augmentation, mask)"
VARIANTS = {  # optimisation step alone: (channels_last, bf16 autocast, torch.compile)
    "optimisation step, float32, default layout": (False, False, False),
    "optimisation step, float32, channels_last": (True, False, False),
    "optimisation step, bf16 autocast, channels_last": (True, True, False),
    "optimisation step, bf16 autocast, default layout": (False, True, False),
    "optimisation step, torch.compile, channels_last": (True, False, True),
}
PACKAGE = {
    "whole package step (api.train), --precision 32": "32",
    "whole package step (api.train), --precision auto": "auto",
}


def source_and_transform(volume: np.ndarray):
    """(patch source, the method's batch transform, the method) as ``api.train`` would build them."""
    config = TrainConfig(method="n2v", net="csbdeep-unet", patch=PATCH, batch=BATCH)
    method = get_method("n2v")
    norm = fit_normalizer([volume], config.normalization, config.percentiles, config.background).normalize(volume)
    planes = [(0, i) for i in range(norm.shape[0])]
    source = PatchSource(
        [norm], [norm], planes, neighbors=0, include_center=True, patch=PATCH, augmentation=config.augmentation
    )
    return source, (lambda i, t, rng: method.transform(i, t, rng, config)), method


def time_draw(source, transform, steps: int) -> float:
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        draw_batch(source, transform, BATCH, rng)
    return (time.perf_counter() - t0) / steps


def make_step(method, channels_last: bool, autocast: bool, compiled: bool):
    """One optimisation step (forward, masked loss, backward, Adam) of a fresh net, as a function of a batch."""
    module = DenoiseModule(build_net("csbdeep-unet", 1), method, 4e-4, epochs=1, channels_last=channels_last)
    if compiled:
        module.net = torch.compile(module.net)
    optimizer = torch.optim.Adam(module.parameters(), lr=4e-4)

    def step(batch):
        inputs, targets, masks = batch
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = method.training_loss(module, inputs, targets, masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def time_steps(step, batches, warmup: int = 3) -> tuple[float, float]:
    """(seconds of the first ``warmup`` steps together, median seconds per later step)."""
    t0 = time.perf_counter()
    for b in batches[:warmup]:
        step(b)
    warm = time.perf_counter() - t0
    times = []
    for b in batches[warmup:]:
        t0 = time.perf_counter()
        step(b)
        times.append(time.perf_counter() - t0)
    return warm, statistics.median(times)


def time_package(volume: np.ndarray, steps: int, folder: Path, precision: str) -> float:
    """Median seconds between consecutive ``training_step`` calls of ``api.train`` (5 warm-up steps skipped)."""
    options = dict(method="n2v", net="csbdeep-unet", patch=PATCH, batch=BATCH, epochs=1, steps_per_epoch=steps + 5)
    with training_step_times() as stamps:
        api.train(volume, folder, progress=False, overwrite=True, precision=precision, **options)
    return float(np.median(np.diff(stamps[5:])))


def one_round(volume, source, transform, method, batches, steps: int, tmp: Path, per: dict, warmups: dict) -> None:
    """Every variant once; appends to ``per`` (seconds per step) and ``warmups``."""
    per[DRAW].append(time_draw(source, transform, steps))
    for name, (channels_last, autocast, compiled) in VARIANTS.items():
        try:
            warm, sec = time_steps(make_step(method, channels_last, autocast, compiled), batches)
        except Exception as exc:  # torch.compile needs a C++ compiler; say so instead of failing
            print(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        per.setdefault(name, []).append(sec)
        warmups.setdefault(name, []).append(warm)
    for name, precision in PACKAGE.items():
        per[name].append(time_package(volume, steps, tmp / f"m{len(per[name])}{precision}", precision))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="profile_step", help="result file name, without .md (one per CPU kind, say)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.rounds = 6, 1
    volume = load_stack(EM_TRAIN).astype(np.float32)
    source, transform, method = source_and_transform(volume)
    rng = np.random.default_rng(1)
    batches = [draw_batch(source, transform, BATCH, rng) for _ in range(args.steps + 3)]
    per: dict[str, list[float]] = {DRAW: [], **{k: [] for k in PACKAGE}}
    warmups: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            one_round(volume, source, transform, method, batches, args.steps, Path(tmp), per, warmups)
            print(f"round {r}: " + ", ".join(f"{k}: {v[-1] * 1000:.0f} ms" for k, v in per.items() if v), flush=True)
    base = statistics.median(per["optimisation step, float32, channels_last"])
    rows = []
    for name, values in per.items():
        sec = statistics.median(values)
        warm = f"{statistics.median(warmups[name]):.1f}" if name in warmups else ""
        rows.append([name, f"{sec * 1000:.0f}", f"{BATCH / sec:.1f}", f"{sec / base:.2f}", warm])
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}.\n\n"
        f"Noise2Void, Table S1 U-Net, {PATCH} x {PATCH} patches, batch {BATCH}, ISBI EM train volume; median over "
        f"{args.rounds} interleaved round(s) of {args.steps} timed steps (3 warm-up steps first).\n\n"
        + markdown_table(
            ["part", "ms per step", "patches/s", "time / fp32 channels_last step", "first 3 steps, s"], rows
        )
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "A training step, taken apart",
        body,
        smoke=args.smoke,
        seeds="batches: numpy default_rng(1) (drawing: 0); nets: torch's default",
        budget=f"{args.rounds} round(s) of {args.steps} timed steps per variant",
        tuned="ISBI EM train volume (N2V batches)",
        scored="seconds per training step",
    )


if __name__ == "__main__":
    main()
