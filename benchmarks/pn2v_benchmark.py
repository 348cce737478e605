"""Probabilistic Noise2Void and probabilistic Noise2Stack against their baselines (issue 9).

    python benchmarks/pn2v_benchmark.py [--budget 120] [--datasets tribolium cells3d isbi-em] [--samples 64]
    python benchmarks/pn2v_benchmark.py --smoke      # every row, tiny crops and budgets (< 30 s)

Per dataset: synthetic Poisson-Gaussian noise (so the true noise model is known), every trained row
with the same wall-clock budget (``--budget`` seconds of training), trained and evaluated on the same
noisy stack (Noise2Clean trains against the clean stack). Rows: Input, N2V, PN2V (true NM), PN2V
(est. NM), Noise2Stack self 2, pn2stack 2 (true NM), pn2stack 2 (est. NM), Noise2Clean.

* true NM: histogram from (clean, noisy) pairs of *separate* noise realisations (seeds 2, 3, ...; at
  least 5 M pairs, so a small stack is calibrated like a large one; the
  evaluated stack is seed 1), over the value range of both realisations.
* est. NM: Poisson-Gaussian gain and read noise fitted on the evaluated noisy stack alone
  (:mod:`noise2stack.noise.poisson_gaussian`); the fitted values are in the table's notes.

Metrics: PSNR/SSIM after CARE normalisation (:mod:`noise2stack.metrics`), means over planes.
Writes benchmarks/results/pn2v_benchmark.md and pn2v_uncertainty.png (posterior std of pn2stack
(true NM) beside the absolute error of its MMSE estimate, one plane per dataset, with the Pearson
correlation of std and |error| over the whole stack). ``--smoke`` writes *_smoke files instead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATASETS, RESULTS, Dataset, markdown_table, write_result
from noise2stack import api
from noise2stack.metrics import evaluate_stack
from noise2stack.noise.histogram import data_range, from_pairs
from noise2stack.noise.poisson_gaussian import estimate_model

# Poisson-Gaussian noise on all three (the ISBI row of common.py is Poisson only)
NOISE = {
    "tribolium": {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    "cells3d": {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    "isbi-em": {"noise": "poisson-gaussian", "peak": 8.0, "sigma_frac": 0.02},
}
ROWS = [
    "Input",
    "N2V",
    "PN2V (true NM)",
    "PN2V (est. NM)",
    "Noise2Stack self 2",
    "pn2stack 2 (true NM)",
    "pn2stack 2 (est. NM)",
    "Noise2Clean",
]


def row_options(row: str) -> dict:
    return {
        "N2V": dict(method="n2v"),
        "PN2V (true NM)": dict(method="pn2v", nm="true"),
        "PN2V (est. NM)": dict(method="pn2v", nm="est"),
        "Noise2Stack self 2": dict(method="n2stack", mode="self", neighbors=2),
        "pn2stack 2 (true NM)": dict(method="pn2stack", neighbors=2, nm="true"),
        "pn2stack 2 (est. NM)": dict(method="pn2stack", neighbors=2, nm="est"),
        "Noise2Clean": dict(method="n2c"),
    }[row]


def run_dataset(key: str, args, work: Path) -> tuple[list, dict, str]:
    base = DATASETS[key]
    ds = Dataset(base.name, base.path, NOISE[key], base.planes)
    clean, noisy = ds.load(seed=1)
    _, noisy2 = ds.load(seed=2)
    top = float(clean.max())  # the noise was drawn for the whole stack: its parameters use this maximum
    if args.smoke:
        clean, noisy, noisy2 = (a[:4, :64, :64].copy() for a in (clean, noisy, noisy2))
    # the true model: enough (clean, noisy) pairs to fill the 256 x 256 histogram; a small stack
    # (cells3d, 0.18 M pixels) gets further realisations (seeds 3, 4, ...) as a calibration would
    realisations = [noisy2]
    while len(realisations) * clean.size < args.nm_pairs and not args.smoke:
        realisations.append(ds.load(seed=2 + len(realisations))[1])
    pairs_clean = np.concatenate([clean.ravel()] * len(realisations))
    pairs_noisy = np.concatenate([r.ravel() for r in realisations])
    true_nm = from_pairs(
        pairs_clean,
        pairs_noisy,
        value_range=data_range(clean, noisy, *realisations),
        provenance={"benchmark": key, "realisations": len(realisations)},
    )
    est_nm = estimate_model(noisy, provenance={"benchmark": key})
    true_nm.save(work / f"{key}_true.npz")
    est_nm.save(work / f"{key}_est.npz")
    scale = top / ds.noise["peak"]
    note = (
        f"{ds.name}, shape {clean.shape}, noise {ds.describe()}; true NM from {len(realisations)} noise "
        f"realisation(s), {pairs_clean.size / 1e6:.1f} M pairs: true gain {scale:.4g}, read variance "
        f"{(ds.noise['sigma_frac'] * top) ** 2:.4g}; estimated gain {est_nm.provenance['gain']:.4g}, "
        f"read variance {est_nm.provenance['read_variance']:.4g}"
    )
    # 64 px patches as everywhere; the 60 x 50 cells3d crop takes 48 px as in the earlier comparisons
    patch = min(64, min(clean.shape[1:]) // 16 * 16)
    train_opts = dict(progress=False, seed=0, overwrite=True, pn2v_samples=args.samples, patch=patch)
    if args.precision:
        train_opts["precision"] = args.precision
    if args.smoke:
        train_opts.update(epochs=1, steps_per_epoch=2, patch=32, batch=4, val_patches=4, pn2v_samples=8)
    else:
        train_opts.update(max_time=args.budget)
    table, figure = [], {}
    for row in [r for r in ROWS if args.rows is None or r == "Input" or r in args.rows]:
        t0 = time.perf_counter()
        std = None
        if row == "Input":
            result = noisy
        else:
            opts = row_options(row)
            nm = opts.pop("nm", None)
            options = {**train_opts, **opts}
            if nm is not None:
                options.update(noise_model=str(work / f"{key}_{nm}.npz"), noise_model_clip=True)
            else:
                options.pop("pn2v_samples")
            folder = work / f"{key}_{len(table)}"
            model = api.train(noisy, folder, targets=[clean] if row == "Noise2Clean" else None, **options)
            uncertainty = work / f"{key}_{len(table)}_std.npy" if nm is not None else None
            result = api.predict(model, noisy, progress=False, uncertainty=uncertainty)
            if uncertainty is not None:
                std = np.load(uncertainty)
        metrics = evaluate_stack(result, clean, "care")
        seconds = time.perf_counter() - t0
        table.append([row, metrics["psnr"], metrics["ssim"], f"{seconds:.1f}"])
        print(
            f"{key:10s} {row:24s} PSNR {metrics['psnr']:.2f} SSIM {metrics['ssim']:.3f} ({seconds:.0f} s)", flush=True
        )
        if row == "pn2stack 2 (true NM)" and std is not None:
            error = np.abs(result - clean)
            figure = {"std": std, "error": error, "corr": float(np.corrcoef(std.ravel(), error.ravel())[0, 1])}
    return table, figure, note


def draw_uncertainty(path: Path, figures: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(figures), 2, figsize=(7, 3.4 * len(figures)), squeeze=False)
    for r, (key, f) in enumerate(figures.items()):
        z = f["std"].shape[0] // 2
        for c, (title, image) in enumerate([("posterior std", f["std"][z]), ("|MMSE - clean|", f["error"][z])]):
            ax = axes[r][c]
            ax.imshow(image, cmap="magma", vmin=0, vmax=float(np.percentile(image, 99.5)) or None)  # each its own scale
            ax.set_title(f"{key}: {title}" + (f" (corr {f['corr']:.2f})" if c == 0 else ""), fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per row")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "cells3d", "isbi-em"])
    parser.add_argument("--samples", type=int, default=64, help="K samples per pixel of the probabilistic rows")
    parser.add_argument("--smoke", action="store_true", help="every row on 4x64x64 crops, 2 training steps")
    parser.add_argument("--nm-pairs", type=float, default=5e6, help="(clean, noisy) pairs for the true noise model")
    parser.add_argument("--rows", nargs="+", default=None, choices=ROWS, help="only these rows (and Input)")
    parser.add_argument("--name", default="pn2v_benchmark", help="result file name (without .md)")
    parser.add_argument(
        "--precision",
        default=None,
        help="training precision of every row (32 keeps a rerun comparable with float32 tables)",
    )
    args = parser.parse_args()
    suffix = "_smoke" if args.smoke else ""
    sections, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            table, figure, note = run_dataset(key, args, Path(tmp))
            sections.append(f"## {key}\n\n{note}.\n\n" + markdown_table(["method", "PSNR", "SSIM", "seconds"], table))
            if figure:
                figures[key] = figure
                sections[-1] += (
                    f"\n\nCorrelation of posterior std and |error| (pn2stack 2, true NM): {figure['corr']:.3f}"
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    if figures:
        draw_uncertainty(RESULTS / f"{args.name.replace('benchmark', 'uncertainty')}{suffix}.png", figures)
    budget = "smoke: 2 training steps per row" if args.smoke else f"{args.budget:g} s of training per row"
    if args.precision:
        budget += f", precision {args.precision}"
    body = (
        f"{budget}; K = {8 if args.smoke else args.samples} samples; CARE-normalised PSNR/SSIM, means over planes. "
        f"Figure: pn2v_uncertainty{suffix}.png.\n\n" + "\n\n".join(sections)
    )
    write_result(f"{args.name}{suffix}.md", "PN2V and probabilistic Noise2Stack", body)


if __name__ == "__main__":
    main()
