"""Does Noise2Stack's lead lean on a reference whose own noise is shared between planes? (issue 25, item 2)

    python -m benchmarks.papers.reference_noise [--steps 400] [--seeds 0 1] [--smoke]

The Tribolium stack serves as the clean reference of several tables, but its own noise is correlated
between neighbouring planes (``../shared/data/README.md``): a method that predicts a plane from its
neighbours can reproduce that noise and be credited for it. Two parts:

1. How shared is each reference's own noise? The median over planes of the correlation between the
   in-plane Laplacians (dominated by noise) of planes z and z+d, over background voxels (5th-30th
   percentile of the plane: almost no signal, so what correlates there is noise) and over voxels above
   the median (signal and noise), for d = 1..4.
2. The claim "self beats Noise2Void and Noise2Clean" rebuilt on references whose noise is
   independent between planes, beside Tribolium as before: Tribolium with every 4th plane kept (its
   background correlation falls from 0.85 at d = 1 to about 0.1 at d = 4: the resampling spread the
   noise over about 4 planes), and Arabidopsis and cells3d, whose background noise is close to
   independent. Synthetic Poisson-Gaussian noise (the harness's) on each; the first 60 % of the
   planes train, the rest are scored. Equal optimisation steps per row (not seconds), so the machine's
   load does not change the table.

Writes ``papers/results/reference_noise.md``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import ndimage

from benchmarks.harness import DATASETS, cpu_model, crop, flags_text, markdown_table, patch_side, write_result
from benchmarks.papers._rows import Row, run_rows

DISTANCES = (1, 2, 3, 4)


def laplacian_correlation(stack: np.ndarray, distance: int, region: str) -> float:
    """Median over planes of corr(Laplacian of plane z, Laplacian of plane z + distance) in ``region``
    (``background``: 5th-30th percentile of plane z; ``signal``: above its median)."""
    planes = stack.astype(np.float64)
    laplacians = np.stack([ndimage.laplace(p) for p in planes])
    values = []
    for z in range(planes.shape[0] - distance):
        if region == "background":
            low, high = np.percentile(planes[z], [5, 30])
            mask = (planes[z] >= low) & (planes[z] <= high)
        else:
            mask = planes[z] > np.median(planes[z])
        a, b = laplacians[z][mask], laplacians[z + distance][mask]
        if a.std() > 0 and b.std() > 0:
            values.append(np.corrcoef(a, b)[0, 1])
    return float(np.median(values)) if values else float("nan")


def references(smoke: bool) -> dict:
    """name -> (clean stack, the dataset whose noise it gets)."""
    tribolium = DATASETS["tribolium"].clean()
    refs = {
        "Tribolium (as in the tables)": (tribolium, "tribolium"),
        "Tribolium, every 4th plane": (np.ascontiguousarray(tribolium[::4]), "tribolium"),
        "Arabidopsis": (DATASETS["arabidopsis"].clean(), "arabidopsis"),
        "cells3d": (DATASETS["cells3d"].clean(), "cells3d"),
    }
    if smoke:
        refs = {k: (crop(v, min(12, v.shape[0]), 64), d) for k, (v, d) in refs.items() if min(v.shape[1:]) >= 64}
    return refs


def rows(seed: int) -> list[Row]:
    return [
        Row("self 4", "n2stack", {"neighbors": 4, "mode": "self", "seed": seed}),
        Row("Noise2Void", "n2v", {"seed": seed}),
        Row("Noise2Clean", "n2c", {"seed": seed}, needs="clean"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    refs = references(args.smoke)
    corr_rows, raw = [], {}
    for name, (clean, _) in refs.items():
        bg = [laplacian_correlation(clean, d, "background") for d in DISTANCES]
        sig = [laplacian_correlation(clean, d, "signal") for d in DISTANCES]
        raw[name] = {"background": bg, "signal": sig}
        corr_rows.append([name, *[f"{b:.2f} / {s:.2f}" for b, s in zip(bg, sig)]])
    psnr_rows = []
    for name, (clean, dataset) in refs.items():
        split = int(clean.shape[0] * 0.6)
        runs: dict = {}
        for seed in args.seeds:
            patch = patch_side(clean.shape[1:])
            noise = DATASETS[dataset].noise
            result = run_rows(rows(seed), clean[:split], clean[split:], noise, args.steps, patch, smoke=args.smoke)
            for label, r in result.items():
                runs.setdefault(label, []).append(r["psnr"])
        raw[name]["psnr"] = runs
        mean = {k: float(np.mean(v)) for k, v in runs.items()}
        cells = [f"{mean[k]:.2f} ± {np.std(runs[k], ddof=1) if len(runs[k]) > 1 else 0:.2f}" for k in runs]
        gaps = [f"{mean['self 4'] - mean['Noise2Void']:+.2f}", f"{mean['self 4'] - mean['Noise2Clean']:+.2f}"]
        psnr_rows.append([name, f"{clean.shape[0]} ({split} train)", *cells, *gaps])
    body = "\n".join(
        [
            f"CPU: {cpu_model()}; flags: {flags_text()}.",
            "",
            "## How shared is each reference's own noise?",
            "",
            "Median correlation of the in-plane Laplacians of planes z and z + d: background voxels / voxels above "
            "the median. Independent noise gives about 0 in the background.",
            "",
            markdown_table(["reference", *[f"d = {d}" for d in DISTANCES]], corr_rows),
            "",
            f"## Self 4 against Noise2Void and Noise2Clean, {args.steps} steps each",
            "",
            f"PSNR dB of the test planes against the reference, mean ± sd over seeds {args.seeds}; the last two "
            "columns: self 4 minus Noise2Void, self 4 minus Noise2Clean (means).",
            "",
            markdown_table(
                ["reference", "planes", "self 4", "Noise2Void", "Noise2Clean", "self − N2V", "self − N2C"], psnr_rows
            ),
            "",
            f"Raw: `{json.dumps(raw)}`",
        ]
    )
    write_result(
        __package__,
        "reference_noise.md",
        "Noise2Stack's lead on references with and without shared noise",
        body,
        smoke=args.smoke,
        seeds=f"training {args.seeds}; noise: the harness's train / copy / test seeds",
        budget=f"{args.steps} optimisation steps per model",
        tuned="nothing tuned here (every method at its defaults); each model trains on the first 60 % of the planes",
        scored="the last 40 % of the planes of each reference, with fresh noise",
    )


if __name__ == "__main__":
    main()
