"""Lightning versus a plain PyTorch loop, and channels_last versus the default layout.

    python -m benchmarks.speed.training_loop_overhead [--steps 40] [--rounds 2]

Same network (Table S1, 2 neighbours), same batches (64x64, batch 16), same optimiser; the variants
run interleaved in one process so machine noise hits all of them alike. Prints patches/s and the
ratio, and writes ``speed/results/training_loop_overhead.md``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import time
import warnings

import lightning as L
import numpy as np
import torch

from benchmarks.harness import DATASETS, markdown_table, write_result
from noise2stack.config import make_config  # internal (this and below): the package's batches and module
from noise2stack.data.normalize import fit_normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.methods import get_method
from noise2stack.nets import build_net
from noise2stack.train.batches import EpochStepSampler, TrainBatches
from noise2stack.train.module import DenoiseModule

WARMUP = 5


class StepTimer(L.Callback):
    def __init__(self):
        self.times = []

    def on_train_batch_end(self, *args):
        self.times.append(time.perf_counter())


def make_batches(seed: int = 0) -> TrainBatches:
    """Noise2Stack self batches of the noisy Arabidopsis stack, as ``api.train`` draws them."""
    _, noisy = DATASETS["arabidopsis"].load()
    cfg = make_config()
    stack = fit_normalizer([noisy]).normalize(noisy)
    planes = [(0, i) for i in range(stack.shape[0])]
    source = PatchSource([stack], [stack], planes, 2, False, 64)
    return TrainBatches(source, functools.partial(get_method("n2stack").transform, config=cfg), cfg.batch, seed)


def new_module(channels_last: bool) -> DenoiseModule:
    torch.manual_seed(0)
    return DenoiseModule(build_net("csbdeep-unet", 2, [0, 1]), get_method("n2stack"), 1e-3, 1, channels_last)


def plain(batches, steps: int, channels_last: bool) -> list[float]:
    """Step end times of a plain PyTorch loop."""
    module = new_module(channels_last)
    opt = torch.optim.Adam(module.parameters(), 1e-3)
    stamps = []
    for step in range(steps):
        loss = module._loss(batches[(0, step)])
        opt.zero_grad()
        loss.backward()
        opt.step()
        stamps.append(time.perf_counter())
    return stamps


def lightning(batches, steps: int, channels_last: bool) -> list[float]:
    """Step end times of the same steps through Lightning's Trainer, set up as the package's."""
    module = new_module(channels_last)
    timer = StepTimer()
    loader = torch.utils.data.DataLoader(batches, batch_size=None, sampler=EpochStepSampler(steps))
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        callbacks=[timer],
        deterministic=True,
        use_distributed_sampler=False,
    )
    trainer.fit(module, train_dataloaders=loader)
    return timer.times


def rate(stamps: list[float], batch: int) -> float:
    """Patches per second after the warm-up steps."""
    span = stamps[-1] - stamps[WARMUP - 1]
    return (len(stamps) - WARMUP) * batch / span


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with --steps 2 --rounds 1)")
    args = parser.parse_args(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    batches = make_batches()
    variants = {
        "plain loop, channels_last": (plain, True),
        "Lightning, channels_last": (lightning, True),
        "plain loop, default layout": (plain, False),
        "Lightning, default layout": (lightning, False),
    }
    results = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (fn, cl) in variants.items():
            results[name].append(rate(fn(batches, args.steps + WARMUP, cl), 16))
            print(f"{name:30s} {results[name][-1]:6.1f} patches/s", flush=True)
    mean = {k: float(np.mean(v)) for k, v in results.items()}
    ref = mean["plain loop, channels_last"]
    rows = [[k, mean[k], mean[k] / ref] for k in variants]
    overhead = 1 - mean["Lightning, channels_last"] / ref
    body = (
        f"Table S1 net, 2 neighbours, 64x64 patches, batch 16, {args.steps} timed steps after {WARMUP} warm-up, "
        f"{args.rounds} interleaved rounds (Arabidopsis stack with Poisson-Gaussian noise).\n\n"
        + markdown_table(["variant", "patches/s", "ratio to plain channels_last"], rows)
        + f"\n\nLightning overhead versus the plain loop: {100 * overhead:.1f} % of throughput "
        + ("(below the 5 % limit: Lightning stays)." if overhead < 0.05 else "(above the 5 % limit).")
    )
    print(body)
    write_result(
        __package__,
        "training_loop_overhead.md",
        "Training loop: Lightning versus plain PyTorch",
        body,
        smoke=args.smoke,
        seeds="torch 0 (weights); batches 0; noise 1",
        budget=f"{args.rounds} round(s) of {args.steps} timed steps per variant",
        tuned="the noisy Arabidopsis stack (Noise2Stack self batches)",
        scored="patches per second",
    )


if __name__ == "__main__":
    main()
