"""Noise2Stack self-supervised on real volumes with synthetic noise (issue "Noise2Stack end to end").

    python -m benchmarks.quality.n2stack_self                        # 300 s per run, all datasets (~35 min)
    python -m benchmarks.quality.n2stack_self --budget 5 --datasets cells3d --smoke

For each dataset and each neighbour count, train on the noisy stack alone for the same wall-clock
budget, denoise it, and report input/output PSNR and SSIM against the clean stack (raw data range
and CARE normalisation), training throughput (patches/s) and prediction throughput (MVox/s).
Writes ``quality/results/n2stack_self.md`` and a per-plane PSNR plot beside it.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import DATASETS, markdown_table, result_path, timed, write_result
from noise2stack import api

HEADER = [
    "data",
    "Noise2Stack",
    "epochs",
    "PSNR in",
    "PSNR out",
    "SSIM in",
    "SSIM out",
    "CARE PSNR in",
    "CARE PSNR out",
    "train patches/s",
    "predict MVox/s",
]


def training_rate(folder: Path, batch: int) -> float:
    """Patches per second over the whole training (the last row of its log)."""
    with open(folder / "training_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    return int(rows[-1]["step"]) * batch / float(rows[-1]["seconds"])


def run_dataset(key: str, neighbors: list[int], budget: float, tmp: Path, curves: dict) -> list[list]:
    """One table row per neighbour count, trained and scored on the same noisy stack."""
    ds = DATASETS[key]
    clean, noisy = ds.load()
    base = api.evaluate(noisy, clean)
    base_care = api.evaluate(noisy, clean, normalize="care")
    curves[(key, "input")] = [p["psnr"] for p in base["per_plane"]]
    patch = 64 if min(clean.shape[1:]) >= 64 else 48
    rows = []
    for n in neighbors:
        folder = tmp / f"{key}-{n}"
        model = api.train(noisy, folder, progress=False, neighbors=n, max_time=budget, seed=0, patch=patch)
        denoised, seconds = timed(api.predict, model, noisy, progress=False)
        result = api.evaluate(denoised, clean)
        care = api.evaluate(denoised, clean, normalize="care")
        curves[(key, f"self {n}")] = [p["psnr"] for p in result["per_plane"]]
        rows.append(
            [
                ds.name,
                f"self {n}",
                model.config.training.epochs,
                base["psnr"],
                result["psnr"],
                base["ssim"],
                result["ssim"],
                base_care["psnr"],
                care["psnr"],
                training_rate(folder, model.config.data.batch),
                noisy.size / seconds / 1e6,
            ]
        )
        print(rows[-1], flush=True)
    return rows


def plot_curves(curves: dict, path: Path) -> None:
    """PSNR per plane of the input and of every model, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for k, _ in curves})
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for (k, label), values in curves.items():
            if k == key:
                ax.plot(np.arange(len(values)), values, label=label)
        ax.set_title(key)
        ax.set_xlabel("plane")
        ax.set_ylabel("PSNR (dB)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"written {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per run")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "cells3d", "isbi-em"], choices=list(DATASETS))
    parser.add_argument("--neighbors", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--name", default="n2stack_self", help="stem of the result files")
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with a short --budget)")
    args = parser.parse_args(argv)
    rows, curves = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            rows += run_dataset(key, args.neighbors, args.budget, Path(tmp), curves)
    noise = "\n".join(
        f"- {DATASETS[k].name}: {DATASETS[k].describe()} (sigma_frac: Gaussian sigma as a fraction of the image maximum)"
        for k in args.datasets
    )
    body = (
        f"Self-supervised Noise2Stack, Table S1 net (default residual), {args.budget:.0f} s wall-clock training per run, "
        "seed 0, batch 16, 64x64 patches (48 for cells3d), trained and evaluated on the same noisy stack (no clean data "
        "used in training). PSNR/SSIM per plane against the original stack, averaged; 'CARE' = percentile + affine "
        "normalisation, data range 1. Prediction: whole planes, default tile 512.\n\nNoise:\n"
        + noise
        + "\n\n"
        + markdown_table(HEADER, rows)
    )
    print(body)
    write_result(
        __package__,
        f"{args.name}.md",
        "Noise2Stack self-supervised: denoising quality and speed",
        body,
        smoke=args.smoke,
        seeds="training 0; noise 1",
        budget=f"{args.budget:g} s wall clock per model",
        tuned="each noisy stack itself (self-supervised: no clean data)",
        scored="the same noisy stack's prediction against its clean stack",
    )
    plot_curves(curves, result_path(__package__, f"{args.name}_per_plane.png", args.smoke))


if __name__ == "__main__":
    main()
