"""Noise2Stack self-supervised on real volumes with synthetic noise (issue "Noise2Stack end to end").

For each dataset and each neighbour count, train on the noisy stack alone for the same wall-clock
budget, denoise it, and report input/output PSNR and SSIM against the clean stack (raw data range
and CARE normalisation), training throughput (patches/s) and prediction throughput (MVox/s).
Writes benchmarks/results/n2stack_self.md and a per-plane PSNR plot.

    python benchmarks/n2stack_self.py                       # 300 s per run, all datasets (~35 min)
    python benchmarks/n2stack_self.py --budget 5 --datasets cells3d   # smoke run
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATASETS, RESULTS, markdown_table, write_result
from noise2stack import api


def training_rate(folder: Path, batch: int) -> float:
    with open(folder / "training_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    return int(rows[-1]["step"]) * batch / float(rows[-1]["seconds"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per run")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "cells3d", "isbi-em"])
    parser.add_argument("--neighbors", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--out", default="n2stack_self.md")
    args = parser.parse_args()
    rows, curves = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            ds = DATASETS[key]
            clean, noisy = ds.load()
            base = api.evaluate(noisy, clean)
            base_care = api.evaluate(noisy, clean, normalize="care")
            curves[(key, "input")] = [p["psnr"] for p in base["per_plane"]]
            patch = 64 if min(clean.shape[1:]) >= 64 else 48
            for n in args.neighbors:
                folder = Path(tmp) / f"{key}-{n}"
                model = api.train(noisy, folder, progress=False, neighbors=n, max_time=args.budget, seed=0, patch=patch)
                t0 = time.perf_counter()
                denoised = api.predict(model, noisy, progress=False)
                predict_seconds = time.perf_counter() - t0
                result = api.evaluate(denoised, clean)
                care = api.evaluate(denoised, clean, normalize="care")
                curves[(key, f"self {n}")] = [p["psnr"] for p in result["per_plane"]]
                rows.append(
                    [
                        ds.name,
                        f"self {n}",
                        model.config.epochs,
                        base["psnr"],
                        result["psnr"],
                        base["ssim"],
                        result["ssim"],
                        base_care["psnr"],
                        care["psnr"],
                        training_rate(folder, model.config.batch),
                        noisy.size / predict_seconds / 1e6,
                    ]
                )
                print(rows[-1], flush=True)
    header = [
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
        + markdown_table(header, rows)
    )
    print(body)
    write_result(args.out, "Noise2Stack self-supervised: denoising quality and speed", body)
    plot_curves(curves, RESULTS / args.out.replace(".md", "_per_plane.png"))


def plot_curves(curves, path):
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


if __name__ == "__main__":
    main()
