"""Where PN2V wins or loses against Noise2Void, by clean intensity (issue 23 item 3).

    python -m benchmarks.quality.pn2v_intensity [--budget 120 | --steps 2000] [--datasets tribolium cells3d] [--seeds 0 1 2]
    python -m benchmarks.quality.pn2v_intensity --datasets tribolium --averages 1 4 16   # the paper's noise regimes
    python -m benchmarks.quality.pn2v_intensity --smoke      # tiny crops, 2 steps (< 30 s)

Per dataset (Poisson-Gaussian noise of the PN2V benchmarks, noise model fitted from the noisy stack,
as a user without calibration data does) and seed: Noise2Void and PN2V trained for ``--budget``
seconds each on the same noisy stack. The clean stack's pixels are cut into five equal-count
intensity bands (quintiles); per band the root-mean-square error of Noise2Void, PN2V's prior mean
and PN2V's MMSE estimate against the clean stack, PN2V's prior and posterior standard deviations
(means over the band's pixels) and the noise's own rms, all in raw units; and the band's share of
Noise2Void's total squared error (what PSNR weighs).

What it answers: the MMSE step can only add where the noise model's likelihood is not much wider
than the prior (posterior std visibly under prior std); where it is, PN2V is its prior mean, and the
table shows in which bands that prior mean trails Noise2Void. ``--averages n ...`` repeats it at lower
noise: the noise of the mean of n noisy images (photon peak x n, read-noise sigma / sqrt(n)), as paper
004 builds its noise regimes NR1-NR5 (n = 1, 2, 4, 8, 16; its Table 1). Writes ``quality/results/<--name>.md``
and ``<--name>.png`` (the bands' errors and spreads, one panel per dataset).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    PN2V_NOISE,
    Dataset,
    markdown_table,
    mean_sd,
    patch_side,
    pn2v_dataset,
    result_path,
    step_schedule,
    steps_done,
    write_result,
)
from noise2stack import api
from noise2stack.metrics import evaluate_stack

BANDS = 5
ESTIMATES = ("N2V", "PN2V prior mean", "PN2V MMSE")


def train_options(args, seed: int, planes: tuple[int, int]) -> dict:
    options = dict(progress=False, seed=seed, overwrite=True, patch=32 if args.smoke else patch_side(planes))
    if args.smoke:
        return {**options, "epochs": 1, "steps_per_epoch": 2, "batch": 4, "val_patches": 4}
    if args.steps:  # equal steps instead of equal seconds: what the step cost leaves out
        return {**options, **step_schedule(args.steps)}
    return {**options, "max_time": args.budget}


def denoise_seed(noisy: np.ndarray, noise_model: Path, args, seed: int, work: Path) -> dict:
    """The three estimates, PN2V's prior and posterior std (raw units) and both trainings' steps."""
    options = train_options(args, seed, noisy.shape[1:])
    n2v_folder, pn2v_folder = work / f"n2v_{seed}", work / f"pn2v_{seed}"
    n2v = api.train(noisy, n2v_folder, method="n2v", **options)
    samples = 8 if args.smoke else args.samples
    pn2v = api.train(
        noisy,
        pn2v_folder,
        method="pn2v",
        noise_model=str(noise_model),
        noise_model_clip=True,
        pn2v_samples=samples,
        **options,
    )
    out = {"N2V": api.predict(n2v, noisy, progress=False)}
    out["PN2V MMSE"] = api.predict(pn2v, noisy, progress=False, uncertainty=work / f"posterior_{seed}.npy")
    out["PN2V prior mean"] = api.predict(
        pn2v, noisy, progress=False, estimate="prior-mean", uncertainty=work / f"prior_{seed}.npy"
    )
    out["posterior std"] = np.load(work / f"posterior_{seed}.npy")
    out["prior std"] = np.load(work / f"prior_{seed}.npy")
    out["steps"] = {"N2V": steps_done(n2v_folder), "PN2V": steps_done(pn2v_folder)}
    return out


def band_figures(clean: np.ndarray, noisy: np.ndarray, run: dict, peak: float) -> list[dict]:
    """Per intensity band: its mean clean value in photons, rms errors, mean stds, noise rms, error share."""
    edges = np.quantile(clean, np.linspace(0, 1, BANDS + 1))
    band = np.clip(np.searchsorted(edges, clean, side="right") - 1, 0, BANDS - 1)
    total = float(np.sum((run["N2V"] - clean) ** 2))
    rows = []
    for b in range(BANDS):
        inside = band == b
        c = clean[inside]
        row = {"photons": float(c.mean() / clean.max() * peak)}
        for name in ESTIMATES:
            row[name] = float(np.sqrt(np.mean((run[name][inside] - c) ** 2)))
        row["prior std"] = float(run["prior std"][inside].mean())
        row["posterior std"] = float(run["posterior std"][inside].mean())
        row["noise"] = float(np.sqrt(np.mean((noisy[inside] - c) ** 2)))
        row["share"] = float(np.sum((run["N2V"][inside] - c) ** 2) / total)
        rows.append(row)
    return rows


def averaged(key: str, n: int) -> Dataset:
    """The PN2V benchmark stack ``key`` with the noise of the mean of ``n`` noisy images."""
    ds = pn2v_dataset(key)
    noise = dict(ds.noise, peak=ds.noise["peak"] * n, sigma_frac=ds.noise["sigma_frac"] / math.sqrt(n))
    return dataclasses.replace(ds, noise=noise)


def run_dataset(key: str, args, work: Path, n: int = 1) -> dict:
    """Per seed: CARE PSNR of the three estimates, steps, and the band figures (noise: mean of ``n``)."""
    ds = averaged(key, n)
    clean, noisy = ds.load(seed=1)
    if args.smoke:
        clean, noisy = (a[:4, :64, :64].copy() for a in (clean, noisy))
    work = work / f"{key}_{n}"
    work.mkdir()
    noise_model = work / "estimated_noise_model.npz"
    api.noise_model(noise_model, estimate_from=noisy)
    seeds = []
    for seed in args.seeds:
        run = denoise_seed(noisy, noise_model, args, seed, work)
        psnr = {name: evaluate_stack(run[name], clean, "care")["psnr"] for name in ESTIMATES}
        print(
            f"{key}, mean of {n}, seed {seed}: " + ", ".join(f"{name} {v:.2f}" for name, v in psnr.items()), flush=True
        )
        seeds.append({"psnr": psnr, "steps": run["steps"], "bands": band_figures(clean, noisy, run, ds.noise["peak"])})
    noisy_psnr = evaluate_stack(noisy, clean, "care")["psnr"]
    return {"name": ds.name, "noise": ds.describe(), "input": noisy_psnr, "seeds": seeds}


def dataset_section(key: str, result: dict) -> str:
    """The dataset's PSNR table (mean ± sd over seeds) and its band table (means over seeds)."""
    seeds = result["seeds"]
    psnr_rows = [
        [name, mean_sd([s["psnr"][name] for s in seeds]), ", ".join(f"{s['psnr'][name]:.2f}" for s in seeds)]
        for name in ESTIMATES
    ]
    steps = ", ".join(f"{s['steps']['N2V']} / {s['steps']['PN2V']}" for s in seeds)
    columns = ["photons", *ESTIMATES, "prior std", "posterior std", "noise", "share"]
    band_rows = []
    for b in range(BANDS):
        means = {c: float(np.mean([s["bands"][b][c] for s in seeds])) for c in columns}
        gaps = [s["bands"][b]["PN2V prior mean"] - s["bands"][b]["N2V"] for s in seeds]
        band_rows.append(
            [b + 1, f"{means['photons']:.1f}"]
            + [f"{means[c]:.2f}" for c in columns[1:-1]]
            + [f"{100 * means['share']:.0f} %", ", ".join(f"{g:+.2f}" for g in gaps)]
        )
    header = ["band", "clean (photons)", *(f"rms {n}" for n in ESTIMATES), "prior std", "posterior std"]
    header += ["noise rms", "share of N2V's squared error", "prior mean − N2V rms (per seed)"]
    return (
        f"## {key}\n\n{result['name']}, noise {result['noise']} (noisy input {result['input']:.2f} dB); "
        f"steps N2V / PN2V per seed: {steps}.\n\n"
        + markdown_table(["estimate", "CARE PSNR (mean ± sd)", "per seed"], psnr_rows)
        + "\n\nBy clean intensity (five equal-count bands; raw units, means over seeds):\n\n"
        + markdown_table(header, band_rows)
    )


def draw(path: Path, results: dict) -> None:
    """Per dataset: rms error of each estimate, prior and posterior std and noise rms against the band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (key, result) in zip(axes[0], results.items()):
        seeds = result["seeds"]
        photons = [np.mean([s["bands"][b]["photons"] for s in seeds]) for b in range(BANDS)]
        for column, style in [*((n, "-o") for n in ESTIMATES), ("prior std", ":s"), ("posterior std", ":^")]:
            values = [np.mean([s["bands"][b][column] for s in seeds]) for b in range(BANDS)]
            ax.plot(photons, values, style, label=column if column in ESTIMATES else f"PN2V {column}")
        ax.set_xlabel("clean intensity band (mean photons)")
        ax.set_ylabel("raw units")
        noise = np.mean([s["bands"][b]["noise"] for s in seeds for b in range(BANDS)])
        ax.set_title(f"{key} (noise rms {noise:.0f} units)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds of each method")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "cells3d"], choices=list(PN2V_NOISE))
    parser.add_argument("--steps", type=int, default=None, help="train each method this many steps instead")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds")
    parser.add_argument("--samples", type=int, default=64, help="PN2V's K samples per pixel")
    parser.add_argument("--smoke", action="store_true", help="4x64x64 crops, 2 training steps")
    parser.add_argument(
        "--averages", nargs="+", type=int, default=[1], help="noise of the mean of n images, per n (paper 004's NR)"
    )
    parser.add_argument("--name", default="pn2v_intensity", help="result file name (without extension)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            key if n == 1 else f"{key}, mean of {n}": run_dataset(key, args, Path(tmp), n)
            for key in args.datasets
            for n in args.averages
        }
    draw(result_path(__package__, f"{args.name}.png", args.smoke), results)
    budget = f"{args.budget:g} s of training per method"
    if args.smoke or args.steps:
        budget = f"{2 if args.smoke else args.steps} training steps per method"
    body = (
        f"{budget}; PN2V K = {8 if args.smoke else args.samples}, noise model fitted from the noisy stack; "
        f"default precision. Figure: {args.name}.png.\n\n"
        + "\n\n".join(dataset_section(key, result) for key, result in results.items())
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "PN2V against Noise2Void by clean intensity",
        body,
        smoke=args.smoke,
        seeds=f"training {', '.join(map(str, args.seeds))}; noise: stack seed 1",
        budget=budget,
        tuned="each noisy stack itself (the noise model fitted from it)",
        scored="the same noisy stack's predictions against its clean stack (CARE PSNR; bands in raw units)",
    )


if __name__ == "__main__":
    main()
