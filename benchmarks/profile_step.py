"""Where a training step's time goes, and what the speed levers buy (issue 13, item 3).

    python benchmarks/profile_step.py [--steps 30] [--rounds 2] [--smoke] [--name profile_step]

Noise2Void, Table S1 U-Net, 64 x 64 patches, batch 16, on the ISBI EM train volume: the same set-up as
``benchmarks/peers.py``. Times, per step, side by side in one run (variants interleaved ``--rounds``
times, median of the rounds):

* drawing a batch (patch sampling, augmentation, blind-spot masking, stacking);
* the optimisation step alone (forward, masked loss, backward, Adam) in float32, default layout and
  channels_last; with bf16 autocast on CPU; and with ``torch.compile``, whose warm-up is reported;
* the whole package step (``api.train``, Lightning and everything), timed between ``training_step``
  calls, in float32 and at the default ``--precision auto``.

Writes benchmarks/results/profile_step.md. ``--smoke``: 6 steps, 1 round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import SHARED, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.config import TrainConfig  # noqa: E402
from noise2stack.data.normalize import fit_normalizer  # noqa: E402
from noise2stack.data.patches import PatchSource  # noqa: E402
from noise2stack.io.stacks import read_stack  # noqa: E402
from noise2stack.methods import get_method  # noqa: E402
from noise2stack.nets import build_net  # noqa: E402
from noise2stack.train.batches import draw_batch  # noqa: E402
from noise2stack.train.module import DenoiseModule  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

BATCH, PATCH = 16, 64


def source_and_transform(volume: np.ndarray):
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
    net = build_net("csbdeep-unet", 1)
    module = DenoiseModule(net, method, 4e-4, epochs=1, channels_last=channels_last)
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
    stamps = []
    original = DenoiseModule.training_step

    def timed(self, batch, batch_idx):
        stamps.append(time.perf_counter())
        return original(self, batch, batch_idx)

    DenoiseModule.training_step = timed
    try:
        api.train(
            volume,
            folder,
            method="n2v",
            net="csbdeep-unet",
            patch=PATCH,
            batch=BATCH,
            epochs=1,
            steps_per_epoch=steps + 5,
            progress=False,
            overwrite=True,
            precision=precision,
        )
    finally:
        DenoiseModule.training_step = original
    steady = np.diff(stamps[5:])
    return float(np.median(steady))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="profile_step", help="result file name, without .md (one per CPU kind, say)")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.rounds = 6, 1
    volume = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype(np.float32)
    source, transform, method = source_and_transform(volume)
    rng = np.random.default_rng(1)
    batches = [draw_batch(source, transform, BATCH, rng) for _ in range(args.steps + 3)]
    variants = {
        "optimisation step, float32, default layout": dict(channels_last=False, autocast=False, compiled=False),
        "optimisation step, float32, channels_last": dict(channels_last=True, autocast=False, compiled=False),
        "optimisation step, bf16 autocast, channels_last": dict(channels_last=True, autocast=True, compiled=False),
        "optimisation step, bf16 autocast, default layout": dict(channels_last=False, autocast=True, compiled=False),
        "optimisation step, torch.compile, channels_last": dict(channels_last=True, autocast=False, compiled=True),
    }
    package = {
        "whole package step (api.train), --precision 32": "32",
        "whole package step (api.train), --precision auto": "auto",
    }
    per: dict[str, list[float]] = {"drawing a batch (data, augmentation, mask)": [], **{k: [] for k in package}}
    warmups: dict[str, list[float]] = {}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            per["drawing a batch (data, augmentation, mask)"].append(time_draw(source, transform, args.steps))
            for name, kw in variants.items():
                try:
                    warm, sec = time_steps(make_step(method, **kw), batches)
                except Exception as exc:  # torch.compile needs a C++ compiler; say so instead of failing
                    print(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                per.setdefault(name, []).append(sec)
                warmups.setdefault(name, []).append(warm)
            for name, precision in package.items():
                per[name].append(time_package(volume, args.steps, Path(tmp) / f"m{r}{precision}", precision))
            print(f"round {r}: " + ", ".join(f"{k}: {v[-1] * 1000:.0f} ms" for k, v in per.items() if v), flush=True)
    base = statistics.median(per["optimisation step, float32, channels_last"])
    rows = []
    for name, values in per.items():
        sec = statistics.median(values)
        warm = f"{statistics.median(warmups[name]):.1f}" if name in warmups else ""
        rows.append([name, f"{sec * 1000:.0f}", f"{BATCH / sec:.1f}", f"{sec / base:.2f}", warm])
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}.\n\n"
        f"Noise2Void, Table S1 U-Net, {PATCH} x {PATCH} patches, batch {BATCH}, ISBI EM train volume; median over "
        f"{args.rounds} interleaved round(s) of {args.steps} timed steps (3 warm-up steps first).\n\n"
        + markdown_table(
            ["part", "ms per step", "patches/s", "time / fp32 channels_last step", "first 3 steps, s"], rows
        )
    )
    write_result("profile_step_smoke.md" if args.smoke else f"{args.name}.md", "A training step, taken apart", body)


if __name__ == "__main__":
    main()
