"""Seams of tiled prediction (issue 10): NRRN's "cut the overlap" stitching (paper 003 §2.2.3) against
the project's exact tiler, and the cost of Noise2SR's super-resolved output.

    python -m benchmarks.quality.stitching [--budget 60] [--planes 3] [--smoke]

1. An NRRN model is trained for ``--budget`` seconds (batch 4) on the ISBI EM train volume with
   Poisson noise (peak 8) and predicts ``--planes`` 512 x 512 test planes whole (one window), with the
   exact tiler (``stitch="blend"``, 128 px cores), and with ``stitch="cut"`` at 128 px tiles and the
   paper's 20 px overlap and at the default overlap (2 x context). Reported: the largest and the mean
   difference from the whole-plane prediction (in % of its range), the mean difference on the
   pixels next to a seam, and PSNR against the clean planes.
2. A Noise2SR model predicts the same planes with ``output_scale=2`` natively (one network pass
   per window, the tiler keeping each window's 2x core) and through its four sub-pixel phases (the
   way the cut stitcher and the earlier code do it): seconds of each, side by side, and their
   largest difference.

Writes ``quality/results/stitching.md``; ``--smoke`` (< 30 s) checks the script on a small crop.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import EM_TEST, EM_TRAIN, crop, load_stack, markdown_table, simulate, timed, write_result
from noise2stack import api
from noise2stack.predict.tiling import predict_stack, tile_starts  # internal: seam positions, per-phase passes

NOISE = {"noise": "poisson", "peak": 8.0}


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


def nrrn_section(nrrn, noisy: np.ndarray, clean: np.ndarray, tile: int, schedule: dict, lr: float) -> str:
    """The whole-plane, blended and cut predictions of one NRRN model, side by side."""
    runs = {
        "whole plane (one window)": {"tile": max(clean.shape[1:])},
        f"blend, {tile} px cores (exact tiler)": {"tile": tile},
        f"cut, {tile} px tiles, 20 px overlap (paper)": {"tile": tile, "overlap": 20, "stitch": "cut"},
        f"cut, {tile} px tiles, default overlap (2 x context)": {"tile": tile, "stitch": "cut"},
    }
    outs, seconds = {}, {}
    for label, options in runs.items():
        outs[label], seconds[label] = timed(api.predict, nrrn, noisy, progress=False, **options)
        print(f"NRRN {label}: {seconds[label]:.1f} s", flush=True)
    whole = outs["whole plane (one window)"]
    span = float(whole.max() - whole.min())
    seams = seam_mask(clean.shape[1:], tile, 20)
    rows = []
    for label, out in outs.items():
        diff = np.abs(out - whole) / span * 100
        psnr = api.evaluate(out, clean, normalize="none")["psnr"]
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
    z, h, w = clean.shape
    return (
        f"## NRRN: stitching on {z} planes of {h} x {w} (ISBI EM test, Poisson peak 8)\n\n"
        f"Model: NRRN, 4 units (context {nrrn.net.context} px), {schedule}, lr {lr:g} on the train volume. Differences "
        "from the whole-plane prediction in % of its range; 'at seams' = the pixels within 2 px of the cut lines of "
        "the 20 px run.\n\n"
        + markdown_table(
            ["prediction", "max diff %", "mean diff %", "mean diff at seams %", "PSNR (dB)", "seconds"], rows
        )
    )


def by_phases(n2sr, noisy: np.ndarray, tile: int) -> np.ndarray:
    """The earlier way to a 2x output: four ordinary 1x tiled predictions, one per sub-pixel phase."""
    normalized = n2sr.normalizer.normalize(noisy)
    phases = np.zeros((noisy.shape[0], 2 * noisy.shape[1], 2 * noisy.shape[2]), np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            view = n2sr.method.prediction_net(n2sr.net, n2sr.config, phase=(dy, dx))
            phases[:, dy::2, dx::2] = predict_stack(view, normalized, 0, True, tile=tile)
    return n2sr.normalizer.denormalize(phases)


def n2sr_section(n2sr, noisy: np.ndarray, tile: int) -> str:
    """Native 2x output against the four phases, and the 1x output, timed side by side."""
    native, t_native = timed(api.predict, n2sr, noisy, output_scale=2, tile=tile, progress=False)
    phases, t_phases = timed(by_phases, n2sr, noisy, tile)
    _, t_plain = timed(api.predict, n2sr, noisy, tile=tile, progress=False)
    diff = float(np.abs(native - phases).max() / (native.max() - native.min()))
    rows = [
        ["--output-scale 2, native (one pass per window)", f"{t_native:.2f}", "1.00"],
        [
            "--output-scale 2 as four 1x passes, one per sub-pixel phase (before)",
            f"{t_phases:.2f}",
            f"{t_phases / t_native:.2f}",
        ],
        ["--output-scale 1 (denoised plane)", f"{t_plain:.2f}", f"{t_plain / t_native:.2f}"],
    ]
    return (
        f"\n## Noise2SR `--output-scale 2` on the same planes, {tile} px tiles\n\n"
        + markdown_table(["prediction", "seconds", "ratio to native"], rows)
        + f"\n\nLargest difference native vs phases: {diff:.2e} of the range."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds of each model")
    parser.add_argument("--planes", type=int, default=3, help="test planes predicted")
    parser.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="NRRN learning rate (the paper's 1e-4 leaves a short run near the identity)",
    )
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    args = parser.parse_args(argv)
    train = load_stack(EM_TRAIN).astype("float32")
    test = load_stack(EM_TEST).astype("float32")[10 : 10 + args.planes]
    schedule, tile, patch = {"max_time": args.budget}, 128, 64
    if args.smoke:
        train, test, tile, patch = crop(train, 4, 64), crop(test, 3, 64), 32, 16
        schedule = {"epochs": 1, "steps_per_epoch": 2, "batch": 2}
    noisy_train, noisy_test = simulate(train, NOISE, 0), simulate(test, NOISE, 2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        options = dict(patch=patch, progress=False)
        nrrn = api.train(noisy_train, tmp / "nrrn", method="nrrn", lr=args.lr, **options, **{"batch": 4, **schedule})
        body = [nrrn_section(nrrn, noisy_test, test, tile, schedule, args.lr)]
        n2sr = api.train(noisy_train, tmp / "n2sr", method="n2sr", **options, **schedule)
        body.append(n2sr_section(n2sr, noisy_test, tile))
    write_result(
        __package__,
        "stitching.md",
        "Tiled prediction: seams and super-resolved output",
        "\n".join(body),
        smoke=args.smoke,
        seeds="training: the package's default; noise: train 0, test 2",
        budget=f"{schedule} per model (NRRN: batch 4)",
        tuned="ISBI EM train volume with Poisson noise (peak 8)",
        scored=f"ISBI EM test planes 10-{9 + args.planes} with noise: predictions against the whole-plane one and the clean planes",
    )


if __name__ == "__main__":
    main()
