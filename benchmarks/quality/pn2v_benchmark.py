"""Probabilistic Noise2Void and probabilistic Noise2Stack against their baselines (issue 9).

    python -m benchmarks.quality.pn2v_benchmark [--budget 120] [--datasets tribolium cells3d isbi-em] [--samples 64] [--seeds 0 1 2]
        [--lr 4e-4] [--batch 16] [--precision 32]
    python -m benchmarks.quality.pn2v_benchmark --smoke      # every row, tiny crops and budgets (< 30 s)

Per dataset: synthetic Poisson-Gaussian noise (so the true noise model is known), every trained row
with the same wall-clock budget (``--budget`` seconds of training), trained and evaluated on the same
noisy stack (Noise2Clean trains against the clean stack). Rows: Input, N2V, PN2V (true NM), PN2V
(est. NM), Noise2Stack self 2, pn2stack 2 (true NM), pn2stack 2 (est. NM), Noise2Clean; below each
probabilistic row, the same model's prior mean (``predict --estimate prior-mean``: the samples' plain
mean, the noise model left out) beside its MMSE estimate.

* true NM: histogram from (clean, noisy) pairs of *separate* noise realisations (seeds 2, 3, ...; at
  least 5 M pairs, so a small stack is calibrated like a large one; the evaluated stack is seed 1),
  over the value range of both realisations.
* est. NM: Poisson-Gaussian gain and read noise fitted on the evaluated noisy stack alone
  (``api.noise_model(estimate_from=...)``); the fitted values are in the table's notes.

Metrics: PSNR/SSIM after CARE normalisation (:mod:`noise2stack.metrics`), means over planes.
Writes ``quality/results/<--name>.md`` and ``pn2v_uncertainty.png`` (posterior std of pn2stack
(true NM) beside the absolute error of its MMSE estimate, one plane per dataset, with the Pearson
correlation of std and |error| over the whole stack).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    PN2V_NOISE,
    Dataset,
    markdown_table,
    patch_side,
    pn2v_dataset,
    result_path,
    write_result,
)
from noise2stack import api
from noise2stack.metrics import evaluate_stack
from noise2stack.noise.histogram import data_range, from_pairs  # internal: a value range wider than the pairs'

ROW_OPTIONS = {  # row -> training options; "nm": which noise model ("true" or "est")
    "N2V": dict(method="n2v"),
    "PN2V (true NM)": dict(method="pn2v", nm="true"),
    "PN2V (est. NM)": dict(method="pn2v", nm="est"),
    "Noise2Stack self 2": dict(method="n2stack", mode="self", neighbors=2),
    "pn2stack 2 (true NM)": dict(method="pn2stack", neighbors=2, nm="true"),
    "pn2stack 2 (est. NM)": dict(method="pn2stack", neighbors=2, nm="est"),
    "Noise2Clean": dict(method="n2c"),
}
ROWS = ["Input", *ROW_OPTIONS]
FIGURE_ROW = "pn2stack 2 (true NM)"  # its posterior std beside its error: the uncertainty figure


def noise_models(key: str, ds: Dataset, stacks: tuple, top: float, args, work: Path) -> str:
    """Write ``work/<key>_true.npz`` and ``<key>_est.npz``; return the note on both.

    ``top`` is the whole clean stack's maximum: the noise was drawn for it, so its parameters use it.
    """
    clean, noisy, noisy2 = stacks
    # enough (clean, noisy) pairs to fill the 256 x 256 histogram; a small stack (cells3d, 0.18 M
    # pixels) gets further realisations (seeds 3, 4, ...) as a calibration would
    realisations = [noisy2]
    while len(realisations) * clean.size < args.nm_pairs and not args.smoke:
        realisations.append(ds.load(seed=2 + len(realisations))[1])
    pairs_clean = np.concatenate([clean.ravel()] * len(realisations))
    true_nm = from_pairs(
        pairs_clean,
        np.concatenate([r.ravel() for r in realisations]),
        value_range=data_range(clean, noisy, *realisations),
        provenance={"benchmark": key, "realisations": len(realisations)},
    )
    true_nm.save(work / f"{key}_true.npz")
    est_nm = api.noise_model(work / f"{key}_est.npz", estimate_from=noisy)
    return (
        f"{ds.name}, shape {clean.shape}, noise {ds.describe()}; true NM from {len(realisations)} noise "
        f"realisation(s), {pairs_clean.size / 1e6:.1f} M pairs: true gain {top / ds.noise['peak']:.4g}, read variance "
        f"{(ds.noise['sigma_frac'] * top) ** 2:.4g}; estimated gain {est_nm.provenance['gain']:.4g}, "
        f"read variance {est_nm.provenance['read_variance']:.4g}"
    )


def training_extras(args) -> dict:
    """The training options given on the command line (precision, lr, batch) that every trained row takes."""
    return {key: getattr(args, key) for key in ("precision", "lr", "batch") if getattr(args, key)}


def train_options(clean: np.ndarray, args) -> dict:
    """The options every trained row shares."""
    patch = patch_side(clean.shape[1:])
    options = dict(progress=False, seed=0, overwrite=True, pn2v_samples=args.samples, patch=patch)
    options.update(training_extras(args))
    if args.smoke:
        options.update(epochs=1, steps_per_epoch=2, patch=32, batch=4, val_patches=4, pn2v_samples=8)
    else:
        options.update(max_time=args.budget)
    return options


def denoise_row(
    row: str, key: str, stacks: tuple, shared: dict, work: Path
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(the row's result, its posterior std or None, the same model's prior-mean estimate or None):
    train and predict one row."""
    clean, noisy, _ = stacks
    if row == "Input":
        return noisy, None, None
    options = dict(ROW_OPTIONS[row])
    nm = options.pop("nm", None)
    options = {**shared, **options}
    if nm is not None:
        options.update(noise_model=str(work / f"{key}_{nm}.npz"), noise_model_clip=True)
    else:
        options.pop("pn2v_samples")
    folder = work / f"{key}_{row.replace(' ', '_')}_seed{shared['seed']}"
    model = api.train(noisy, folder, targets=[clean] if row == "Noise2Clean" else None, **options)
    uncertainty = folder.with_name(folder.name + "_std.npy") if nm is not None else None
    result = api.predict(model, noisy, progress=False, uncertainty=uncertainty)
    if nm is None:
        return result, None, None
    return result, np.load(uncertainty), api.predict(model, noisy, progress=False, estimate="prior-mean")


def summary(values: list[float]) -> list:
    """[mean, its sample sd over seeds as text, or "" for one seed] of one column."""
    if len(values) == 1:
        return [values[0], ""]
    return [float(np.mean(values)), f"{np.std(values, ddof=1):.2f} ({', '.join(f'{v:.2f}' for v in values)})"]


def denoise_seed(row: str, key: str, stacks: tuple, shared: dict, work: Path) -> dict:
    """PSNR, SSIM, seconds, the prior mean's metrics (or None) and the uncertainty figure's arrays of one seed's row."""
    clean = stacks[0]
    t0 = time.perf_counter()
    result, std, prior = denoise_row(row, key, stacks, shared, work)
    metrics = evaluate_stack(result, clean, "care")
    seconds = time.perf_counter() - t0
    run = {"psnr": metrics["psnr"], "ssim": metrics["ssim"], "seconds": f"{seconds:.1f}", "prior": None, "figure": {}}
    tag = f"{key:10s} {row:24s} seed {shared['seed']}"
    if prior is not None:
        run["prior"] = evaluate_stack(prior, clean, "care")
        print(f"{tag} prior mean PSNR {run['prior']['psnr']:.2f}", flush=True)
    print(f"{tag} PSNR {metrics['psnr']:.2f} SSIM {metrics['ssim']:.3f} ({seconds:.0f} s)", flush=True)
    if std is not None and row == FIGURE_ROW:  # the one row the figure shows
        error = np.abs(result - clean)
        run["figure"] = {"std": std, "error": error, "corr": float(np.corrcoef(std.ravel(), error.ravel())[0, 1])}
    return run


def run_dataset(key: str, args, work: Path) -> tuple[list, dict, str]:
    """(table rows, the uncertainty figure's arrays or {}, the noise-model note) of one dataset."""
    ds = pn2v_dataset(key)
    clean, noisy = ds.load(seed=1)
    noisy2 = ds.load(seed=2)[1]
    top = float(clean.max())
    if args.smoke:
        clean, noisy, noisy2 = (a[:4, :64, :64].copy() for a in (clean, noisy, noisy2))
    stacks = (clean, noisy, noisy2)
    note = noise_models(key, ds, stacks, top, args, work)
    shared = train_options(clean, args)
    table, figure = [], {}
    for row in [r for r in ROWS if args.rows is None or r == "Input" or r in args.rows]:
        seeds = args.seeds[:1] if row == "Input" else args.seeds  # nothing trained: one row
        runs = [denoise_seed(row, key, stacks, {**shared, "seed": seed}, work) for seed in seeds]
        table.append(
            [row, *summary([r["psnr"] for r in runs]), *summary([r["ssim"] for r in runs]), runs[0]["seconds"]]
        )
        if runs[0]["prior"] is not None:  # the same model, its samples' plain mean instead of the MMSE estimate
            priors = [r["prior"] for r in runs]
            table.append(
                [f"{row}, prior mean", *summary([p["psnr"] for p in priors]), *summary([p["ssim"] for p in priors]), ""]
            )
        if row == FIGURE_ROW and runs[0]["figure"]:
            figure = runs[0]["figure"]
    if len(args.seeds) == 1:  # the single-seed table of earlier results: no spread columns
        table = [[r[0], r[1], r[3], r[5]] for r in table]
    return table, figure, note


def draw_uncertainty(path: Path, figures: dict) -> None:
    """Posterior std beside |MMSE - clean|, the middle plane of each dataset."""
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


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per row")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "cells3d", "isbi-em"], choices=list(PN2V_NOISE))
    parser.add_argument("--samples", type=int, default=64, help="K samples per pixel of the probabilistic rows")
    parser.add_argument("--smoke", action="store_true", help="every row on 4x64x64 crops, 2 training steps")
    parser.add_argument("--nm-pairs", type=float, default=5e6, help="(clean, noisy) pairs for the true noise model")
    parser.add_argument("--rows", nargs="+", default=None, choices=ROWS, help="only these rows (and Input)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds of every row (mean ± sd)")
    parser.add_argument("--name", default="pn2v_benchmark", help="result file name (without .md)")
    parser.add_argument(
        "--precision", default=None, help="training precision of every row (32 keeps a rerun comparable with float32)"
    )
    parser.add_argument("--lr", type=float, default=None, help="Adam's learning rate of every trained row")
    parser.add_argument("--batch", type=int, default=None, help="patches per step of every trained row")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    sections, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            table, figure, note = run_dataset(key, args, Path(tmp))
            header = ["method", "PSNR", "SSIM", "seconds"]
            if len(args.seeds) > 1:
                header = [
                    "method",
                    "PSNR (mean)",
                    "sd (per seed)",
                    "SSIM (mean)",
                    "sd (per seed)",
                    "seconds (first seed)",
                ]
            sections.append(f"## {key}\n\n{note}.\n\n" + markdown_table(header, table))
            if figure:
                figures[key] = figure
                sections[-1] += (
                    f"\n\nCorrelation of posterior std and |error| (pn2stack 2, true NM): {figure['corr']:.3f}"
                )
    figure_name = f"{args.name.replace('benchmark', 'uncertainty')}.png"
    if figures:
        draw_uncertainty(result_path(__package__, figure_name, args.smoke), figures)
    budget = "2 training steps per row" if args.smoke else f"{args.budget:g} s of training per row"
    budget += "".join(f", {key} {value}" for key, value in training_extras(args).items())
    body = (
        f"{budget}; K = {8 if args.smoke else args.samples} samples; CARE-normalised PSNR/SSIM, means over planes. "
        + (f"Figure: {figure_name}." if figures else f"No figure (no {FIGURE_ROW} row).")
        + "\n\n"
        + "\n\n".join(sections)
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "PN2V and probabilistic Noise2Stack",
        body,
        smoke=args.smoke,
        seeds=f"training {', '.join(map(str, args.seeds))}; noise: evaluated stack 1, true noise model 2, 3, ...",
        budget=budget,
        tuned="each noisy stack itself (Noise2Clean: against its clean stack); true NM from other realisations",
        scored="the same noisy stack's prediction against its clean stack (CARE-normalised)",
    )


if __name__ == "__main__":
    main()
