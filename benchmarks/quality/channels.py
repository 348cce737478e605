"""--channels separate against --channels joint on two-channel stacks (issue 11, item 2).

    python -m benchmarks.quality.channels [--steps 400] [--smoke]

``../shared/data`` holds no multi-channel stack, so the two-channel stacks are made from the
Tribolium light-sheet stack (100 x 256 x 256):

* **correlated**: channel 0 = the stack, channel 1 = the same structures as a second, dimmer and
  blurrier label would show them (Gaussian blur sigma 1.5 px, square root, rescaled), as a nuclear and a
  cytoplasmic stain of the same cells do;
* **independent**: channel 1 is the stack reversed along Z (other cells in every plane): structure
  the first channel cannot predict.

Each channel gets its own Poisson-Gaussian noise (channel 0 peak 30, channel 1 peak 10; Gaussian
sigma 2 % of the maximum). Planes 0-59 train, planes 60-99 (with fresh noise) test. Noise2Stack self,
2 neighbours, batch 16, 64 x 64 patches; ``--steps`` optimisation steps per model: separate trains two
models (2x the steps in all), joint one, once with ``--steps`` and once with twice as many (the same
compute as separate). PSNR per channel against the clean channel, no normalisation.
Writes ``quality/results/channels.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks.harness import (
    DATASETS,
    cpu_model,
    crop,
    flags_text,
    markdown_table,
    simulate,
    step_schedule,
    timed,
    write_result,
)
from noise2stack import api

PEAKS = (30.0, 10.0)


def pair(kind: str, smoke: bool) -> np.ndarray:
    """Clean (C=2, Z, Y, X) float32 stack of the given kind."""
    first = DATASETS["tribolium"].clean()
    if smoke:
        first = crop(first, 16, 64)
    if kind == "correlated":
        second = np.sqrt(np.clip(ndimage.gaussian_filter(first, (0, 1.5, 1.5)), 0, None))
        second *= first.max() / second.max()
    else:
        second = first[::-1].copy()
    return np.stack([first, second])


def noisy(clean: np.ndarray, seed: int) -> np.ndarray:
    """Each channel with its own Poisson-Gaussian noise (seed + 10 x channel)."""
    return np.stack(
        [
            simulate(c, {"noise": "poisson-gaussian", "peak": peak, "sigma_frac": 0.02}, seed + 10 * k)
            for k, (c, peak) in enumerate(zip(clean, PEAKS))
        ]
    )


def rows_of(kind: str, steps: int, smoke: bool, tmp: Path, raw: dict) -> list[list]:
    """Input, separate and joint (1x and 2x the steps) rows of one kind of two-channel stack."""
    clean = pair(kind, smoke)
    split = int(clean.shape[1] * 0.6)
    train_clean, test_clean = clean[:, :split], clean[:, split:]
    train, test = noisy(train_clean, 0), noisy(test_clean, 1)
    options = dict(method="n2stack", mode="self", neighbors=2, seed=0, axes="CZYX", progress=False)
    options.update({"patch": 32, "batch": 4} if smoke else {})
    inputs = [api.evaluate(test[c], test_clean[c])["psnr"] for c in range(2)]
    rows = [[kind, "input (noisy)", "", f"{inputs[0]:.2f}", f"{inputs[1]:.2f}", ""]]
    for channels, factor in (("separate", 1), ("joint", 1), ("joint", 2)):
        folder = tmp / f"{kind}-{channels}-{factor}"
        _, seconds = timed(api.train, train, folder, channels=channels, **options, **step_schedule(steps * factor))
        pred = api.predict(folder, test, axes="CZYX", progress=False)  # (Z, C, Y, X)
        psnr = [api.evaluate(pred[:, c], test_clean[c])["psnr"] for c in range(2)]
        raw[f"{kind} {channels} x{factor}"] = {"psnr": psnr, "train_seconds": seconds}
        models = 2 if channels == "separate" else 1
        rows.append(
            [kind, channels, f"{models} x {steps * factor}", f"{psnr[0]:.2f}", f"{psnr[1]:.2f}", f"{seconds:.0f}"]
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="optimisation steps per model")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    steps = 4 if args.smoke else args.steps
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("correlated", "independent"):
            rows += rows_of(kind, steps, args.smoke, Path(tmp), raw)
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; training precision: auto.\n\n"
        "Two-channel stacks made from the Tribolium stack (no multi-channel data in ../shared/data; see the "
        "script's docstring): channel 1 is the same structures as a dimmer, blurrier stain (correlated) or other "
        f"cells (independent). Poisson-Gaussian noise, peaks {PEAKS}; Noise2Stack self, 2 neighbours; test planes 60-99.\n\n"
        + markdown_table(
            ["stack", "channels", "models x steps", "PSNR ch 0 (dB)", "PSNR ch 1 (dB)", "training s"], rows
        )
        + f"\n\nRaw: `{raw}`"
    )
    write_result(
        __package__,
        "channels.md",
        "Channels: separate against joint",
        body,
        smoke=args.smoke,
        seeds="training 0; noise: train 0 (channel 1: 10), test 1 (channel 1: 11)",
        budget=f"{steps} optimisation steps per model (joint: also {2 * steps}), batch 16",
        tuned="two-channel stacks made from Tribolium planes 0-59, with noise",
        scored="the same stacks' planes 60-99, fresh noise, against the clean channels",
    )


if __name__ == "__main__":
    main()
