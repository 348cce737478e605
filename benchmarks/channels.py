"""--channels separate against --channels joint on two-channel stacks (issue 11, item 2).

    python benchmarks/channels.py [--steps 400] [--smoke]

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
Writes benchmarks/results/channels.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.io.stacks import read_stack  # noqa: E402
from noise2stack.noise import add_noise  # noqa: E402
from paper_rows import crop, step_schedule  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

PEAKS = (30.0, 10.0)


def pair(kind: str, smoke: bool) -> np.ndarray:
    """Clean (C=2, Z, Y, X) float32 stack of the given kind."""
    first = read_stack(SHARED / "fluo_tribolium_lightsheet/tribolium_lund_zyx.tif").astype(np.float32)
    if smoke:
        first = crop(first, 16, 64)
    if kind == "correlated":
        second = np.sqrt(np.clip(ndimage.gaussian_filter(first, (0, 1.5, 1.5)), 0, None))
        second *= first.max() / second.max()
    else:
        second = first[::-1].copy()
    return np.stack([first, second])


def noisy(clean: np.ndarray, seed: int) -> np.ndarray:
    return np.stack(
        [
            add_noise(c, noise="poisson-gaussian", peak=peak, sigma=0.02 * float(c.max()), seed=seed + 10 * k)
            for k, (c, peak) in enumerate(zip(clean, PEAKS))
        ]
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400, help="optimisation steps per model")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    steps = 4 if args.smoke else args.steps
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("correlated", "independent"):
            clean = pair(kind, args.smoke)
            split = int(clean.shape[1] * 0.6)
            train_clean, test_clean = clean[:, :split], clean[:, split:]
            train, test = noisy(train_clean, 0), noisy(test_clean, 1)
            options = dict(
                method="n2stack",
                mode="self",
                neighbors=2,
                seed=0,
                axes="CZYX",
                progress=False,
                **step_schedule(steps),
                **({"patch": 32, "batch": 4} if args.smoke else {}),
            )
            inputs = [api.evaluate(test[c], test_clean[c])["psnr"] for c in range(2)]
            rows.append([kind, "input (noisy)", "", f"{inputs[0]:.2f}", f"{inputs[1]:.2f}", ""])
            for channels, factor in (("separate", 1), ("joint", 1), ("joint", 2)):
                folder = Path(tmp) / f"{kind}-{channels}-{factor}"
                t0 = time.perf_counter()
                api.train(train, folder, channels=channels, **{**options, **step_schedule(steps * factor)})
                seconds = time.perf_counter() - t0
                pred = api.predict(folder, test, axes="CZYX", progress=False)  # (Z, C, Y, X)
                psnr = [api.evaluate(pred[:, c], test_clean[c])["psnr"] for c in range(2)]
                raw[f"{kind} {channels} x{factor}"] = {"psnr": psnr, "train_seconds": seconds}
                models = 2 if channels == "separate" else 1
                rows.append(
                    [
                        kind,
                        channels,
                        f"{models} x {steps * factor}",
                        f"{psnr[0]:.2f}",
                        f"{psnr[1]:.2f}",
                        f"{seconds:.0f}",
                    ]
                )
                print(rows[-1], flush=True)
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; training precision: auto.\n\n"
        "Two-channel stacks made from the Tribolium stack (no multi-channel data in ../shared/data; see the "
        "script's docstring): channel 1 is the same structures as a dimmer, blurrier stain (correlated) or other "
        f"cells (independent). Poisson-Gaussian noise, peaks {PEAKS}; Noise2Stack self, 2 neighbours; test planes 60-99.\n\n"
        + markdown_table(
            ["stack", "channels", "models x steps", "PSNR ch 0 (dB)", "PSNR ch 1 (dB)", "training s"], rows
        )
        + f"\n\nRaw: `{raw}`"
    )
    write_result("channels_smoke.md" if args.smoke else "channels.md", "Channels: separate against joint", body)


if __name__ == "__main__":
    main()
