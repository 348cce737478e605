"""PN2V's training step with the U-Net's head at the masked pixels only, against the full head (issue 23 item 3).

    python -m benchmarks.speed.pn2v_step [--steps 60] [--rounds 3] [--smoke]

PN2V's loss covers only the blind-spot pixels (5 % of a patch), yet the Table S1 U-Net's last layer
(a 3 x 3 convolution from 32 features to K = 64 samples) ran over every pixel. Since commit 0b8f432
``pn2v`` calls the net with ``at=mask`` and the head runs at the masked pixels alone
(``nets.unet.conv_at``). This times the whole package step (``api.train``, between
``training_step`` calls: data, forward, loss, backward, Adam, Lightning's hooks) on Tribolium with
Poisson-Gaussian noise (peak 30) and a noise model fitted from the noisy stack, the package's
defaults (batch 16 of 64 x 64, default precision), variants interleaved ``--rounds`` times: PN2V
today, PN2V with the full head (the step before 0b8f432), and Noise2Void for reference.
Writes ``speed/results/pn2v_step.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import (
    cpu_model,
    flags_text,
    markdown_table,
    pn2v_dataset,
    training_step_times,
    write_result,
)
from noise2stack import api
from noise2stack.methods.base import Method  # internal: the full-head step is the base method's loss
from noise2stack.methods.pn2v import ProbabilisticNoise2Void

VARIANTS = {
    "PN2V, head at the masked pixels (today)": ("pn2v", False),
    "PN2V, head over every pixel (before 0b8f432)": ("pn2v", True),
    "Noise2Void (reference)": ("n2v", False),
}


@contextlib.contextmanager
def full_head(on: bool):
    """While the block runs, PN2V's step computes the whole (B, K, Y, X) output, as before 0b8f432."""
    saved = ProbabilisticNoise2Void.training_loss
    if on:
        ProbabilisticNoise2Void.training_loss = Method.training_loss  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProbabilisticNoise2Void.training_loss = saved  # type: ignore[method-assign]


def step_seconds(noisy: np.ndarray, noise_model: Path, method: str, full: bool, steps: int, patch: int) -> float:
    """Median seconds between training_step calls of one run of ``steps`` + 5 steps."""
    extra = {"noise_model": str(noise_model), "noise_model_clip": True} if method == "pn2v" else {}
    options = dict(method=method, patch=patch, batch=16, epochs=1, steps_per_epoch=steps + 5, seed=0, **extra)
    with full_head(full), training_step_times() as stamps, tempfile.TemporaryDirectory() as tmp:
        api.train(noisy, Path(tmp) / "m", progress=False, overwrite=True, **options)
    return float(np.median(np.diff(stamps[5:])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of all variants")
    parser.add_argument("--smoke", action="store_true", help="4 x 64 x 64 crop, 4 steps, 1 round")
    args = parser.parse_args(argv)
    _, noisy = pn2v_dataset("tribolium").load(seed=1)
    patch = 64
    if args.smoke:
        noisy, args.steps, args.rounds, patch = noisy[:4, :64, :64], 4, 1, 32
    per: dict[str, list[float]] = {k: [] for k in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        noise_model = Path(tmp) / "fitted.npz"
        api.noise_model(noise_model, estimate_from=noisy)
        for r in range(args.rounds):
            for name, (method, full) in VARIANTS.items():
                per[name].append(step_seconds(noisy, noise_model, method, full, args.steps, patch))
            print(f"round {r}: " + ", ".join(f"{k}: {v[-1] * 1000:.1f} ms" for k, v in per.items()), flush=True)
    before = statistics.median(per["PN2V, head over every pixel (before 0b8f432)"])
    rows = []
    for name, seconds in per.items():
        sec = statistics.median(seconds)
        runs = ", ".join(f"{s * 1000:.1f}" for s in seconds)
        rows.append([name, f"{sec * 1000:.1f}", runs, f"{before / sec:.2f}x"])
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}.\n\n"
        f"Whole package step, batch 16 of {patch} x {patch}, K = 64 samples, default precision; median over "
        f"{args.rounds} interleaved round(s) of {args.steps} timed steps (each round's median listed).\n\n"
        + markdown_table(["variant", "ms per step", "per round (ms)", "speed vs the full head"], rows)
    )
    write_result(
        __package__,
        "pn2v_step.md",
        "PN2V's step: the head at the masked pixels",
        body,
        smoke=args.smoke,
        seeds="training 0; noise: stack seed 1",
        budget=f"{args.rounds} round(s) of {args.steps} timed training steps per variant",
        tuned="Tribolium, Poisson-Gaussian peak 30 (the noise model fitted from the noisy stack)",
        scored="seconds per training step",
    )


if __name__ == "__main__":
    main()
