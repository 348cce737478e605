"""Seams of tiled prediction (issue 10): NRRN's "cut the overlap" stitching (paper 003 §2.2.3) against
the project's exact tiler, and the cost of Noise2SR's super-resolved output.

    python benchmarks/stitching.py [--budget 60] [--planes 3] [--smoke]

1. An NRRN model is trained for ``--budget`` seconds (batch 4) on the ISBI EM train volume with
   Poisson noise (peak 8) and predicts ``--planes`` 512 x 512 test planes whole (one window), with the
   exact tiler (``--stitch blend``, 128 px cores), and with ``--stitch cut`` at 128 px tiles and the
   paper's 20 px overlap and at the default overlap (2 x context). Reported: the largest and the mean
   difference from the whole-plane prediction (in % of its range), the mean difference on the
   pixels next to a seam, and PSNR against the clean planes.
2. A Noise2SR model predicts the same planes with ``--output-scale 2`` natively (one network pass
   per window, the tiler keeping each window's 2x core) and through its four sub-pixel phases (the
   way the cut stitcher and the earlier code do it): seconds of each, side by side, and their
   largest difference.

Writes benchmarks/results/stitching.md; ``--smoke`` (< 30 s) checks the script on a small crop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from common import SHARED, markdown_table, write_result
from noise2stack import api
from noise2stack.io.stacks import read_stack
from noise2stack.noise import add_noise
from noise2stack.predict.tiling import predict_stack, tile_starts
from paper_rows import crop


def seam_mask(shape: tuple[int, int], tile: int, overlap: int, width: int = 2) -> np.ndarray:
    """Pixels within ``width`` of a cut between two tiles (the cut stitcher's cut lines)."""
    mask = np.zeros(shape, dtype=bool)
    for axis, n in enumerate(shape):
        starts = tile_starts(n, min(tile, n), overlap, 1)
        for a, b in zip(starts[:-1], starts[1:]):
            cut = (a + tile + b) // 2
            index = [slice(None), slice(None)]
            index[axis] = slice(max(cut - width, 0), cut + width)
            mask[tuple(index)] = True
    return mask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds of each model")
    parser.add_argument("--planes", type=int, default=3, help="test planes predicted")
    parser.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="NRRN learning rate (the paper's 1e-4 leaves a short run near the identity, seamless)",
    )
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    args = parser.parse_args()
    train = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype("float32")
    test = read_stack(SHARED / "em_isbi2012_sstem/test_volume_zyx.tif").astype("float32")
    test = test[10 : 10 + args.planes]
    schedule, tile, patch = {"max_time": args.budget}, 128, 64
    if args.smoke:
        train, test, tile, patch = crop(train, 4, 64), crop(test, 3, 64), 32, 16
        schedule = {"epochs": 1, "steps_per_epoch": 2, "batch": 2}
    noise = {"noise": "poisson", "peak": 8.0}
    noisy_train, noisy_test = add_noise(train, seed=0, **noise), add_noise(test, seed=2, **noise)
    body = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nrrn = api.train(
            noisy_train,
            tmp / "nrrn",
            method="nrrn",
            patch=patch,
            progress=False,
            lr=args.lr,
            **{"batch": 4, **schedule},
        )
        big = max(test.shape[1:])
        runs = {
            "whole plane (one window)": {"tile": big},
            f"blend, {tile} px cores (exact tiler)": {"tile": tile},
            f"cut, {tile} px tiles, 20 px overlap (paper)": {"tile": tile, "overlap": 20, "stitch": "cut"},
            f"cut, {tile} px tiles, default overlap (2 x context)": {"tile": tile, "stitch": "cut"},
        }
        outs, seconds = {}, {}
        for label, options in runs.items():
            t0 = time.perf_counter()
            outs[label] = api.predict(nrrn, noisy_test, progress=False, **options)
            seconds[label] = time.perf_counter() - t0
            print(f"NRRN {label}: {seconds[label]:.1f} s", flush=True)
        whole = outs["whole plane (one window)"]
        span = float(whole.max() - whole.min())
        seams = seam_mask(test.shape[1:], tile, 20)
        rows = []
        for label, out in outs.items():
            diff = np.abs(out - whole) / span * 100
            psnr = api.evaluate(out, test, normalize="none")["psnr"]
            rows.append(
                [
                    label,
                    f"{diff.max():.2e}",
                    f"{diff.mean():.2e}",
                    f"{diff[:, seams].mean():.2e}",
                    f"{psnr:.3f}",
                    f"{seconds[label]:.1f}",
                ]
            )
        body.append(
            f"## NRRN: stitching on {test.shape[0]} planes of {test.shape[1]} x {test.shape[2]} (ISBI EM test, Poisson peak 8)\n\n"
            f"Model: NRRN, 4 units (context {nrrn.net.context} px), {schedule}, lr {args.lr:g} on the train volume. Differences from the "
            "whole-plane prediction in % of its range; 'at seams' = the pixels within 2 px of the cut lines of the 20 px run.\n\n"
            + markdown_table(
                ["prediction", "max diff %", "mean diff %", "mean diff at seams %", "PSNR (dB)", "seconds"], rows
            )
        )

        n2sr = api.train(noisy_train, tmp / "n2sr", method="n2sr", patch=patch, progress=False, **schedule)
        t0 = time.perf_counter()
        native = api.predict(n2sr, noisy_test, output_scale=2, tile=tile, progress=False)
        t_native = time.perf_counter() - t0
        t0 = time.perf_counter()  # the earlier way: four ordinary 1x tiled predictions, one per sub-pixel phase
        normalized = n2sr.normalizer.normalize(noisy_test)
        phases = np.zeros_like(native)
        for dy in (0, 1):
            for dx in (0, 1):
                view = n2sr.method.prediction_net(n2sr.net, n2sr.config, phase=(dy, dx))
                phases[:, dy::2, dx::2] = predict_stack(view, normalized, 0, True, tile=tile)
        phases = n2sr.normalizer.denormalize(phases)
        t_phases = time.perf_counter() - t0
        t0 = time.perf_counter()
        api.predict(n2sr, noisy_test, tile=tile, progress=False)
        t_plain = time.perf_counter() - t0
        diff = float(np.abs(native - phases).max() / (native.max() - native.min()))
        body.append(
            f"\n## Noise2SR `--output-scale 2` on the same planes, {tile} px tiles\n\n"
            + markdown_table(
                ["prediction", "seconds", "ratio to native"],
                [
                    ["--output-scale 2, native (one pass per window)", f"{t_native:.2f}", "1.00"],
                    [
                        "--output-scale 2 as four 1x passes, one per sub-pixel phase (before)",
                        f"{t_phases:.2f}",
                        f"{t_phases / t_native:.2f}",
                    ],
                    ["--output-scale 1 (denoised plane)", f"{t_plain:.2f}", f"{t_plain / t_native:.2f}"],
                ],
            )
            + f"\n\nLargest difference native vs phases: {diff:.2e} of the range."
        )
    write_result(
        "stitching_smoke.md" if args.smoke else "stitching.md",
        "Tiled prediction: seams and super-resolved output",
        "\n".join(body),
    )


if __name__ == "__main__":
    main()
