"""Why two of the paper's microscopy claims change on our data (000, §3.2, Table 1 microscopy block).

    python -m benchmarks.papers.microscopy_claims [--budget 300] [--experiments A B] [--corr-sigma-frac 0.1 --correlated-only]

The comparison tables (papers.compare_methods) use synthetic Poisson-Gaussian noise that is
independent from pixel to pixel. Two experiments on the cells3d crop test the explanations:

A. *Noise2Void gains much less than Noise2Stack* (paper: N2V +1.0 dB, Noise2Stack self +5.8 dB).
   Noise2Void assumes noise independent between neighbouring pixels of a plane; Noise2Stack only
   between planes. Real low-exposure camera images carry spatially correlated noise (the paper
   subtracts a camera background pattern, Figure S3). Same data and budget, two noises: the
   table's pixel-independent noise, and the same noise plus an in-plane correlated Gaussian field
   (white noise smoothed with a Gaussian of ``--corr-px`` pixels, independent between planes).
B. *Noise2Clean beats Noise2Stack self by about 1 dB.* The paper's Noise2Clean sees one plane;
   Noise2Stack self sees the neighbours, i.e. more independent noisy looks at nearly the same
   structure. Noise2Clean given the same four neighbours separates "clean target" from "more input".

Writes ``papers/results/<--name>.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks.harness import DATASETS, markdown_table, resolve_noise, simulate, write_result
from noise2stack import api

HEADER = ["row", "PSNR (dB)", "SSIM", "NRMSE", "training (s)"]


def correlated_field(shape, sigma: float, corr_px: float, seed: int) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma``, correlated within planes over ~``corr_px`` px."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(0, corr_px, corr_px))
    return (field * (sigma / field.std())).astype(np.float32)


def score(label: str, stack: np.ndarray, clean: np.ndarray, train_s: float) -> list:
    m = api.evaluate(stack, clean, normalize="care")
    print(f"  {label}: {m['psnr']:.2f} dB", flush=True)
    return [label, round(m["psnr"], 2), round(m["ssim"], 3), round(m["nrmse"], 3), round(train_s)]


def train_and_score(label, noisy, clean, tmp, budget, patch, targets=None, **options) -> list:
    """Train one row for ``budget`` seconds on ``noisy`` and score its prediction of ``noisy``."""
    folder = Path(tmp) / label.replace(" ", "_")
    t0 = time.perf_counter()
    model = api.train(noisy, folder, targets=targets, progress=False, max_time=budget, seed=0, patch=patch, **options)
    train_s = time.perf_counter() - t0
    return score(label, api.predict(model, noisy, progress=False), clean, train_s)


def experiment_a(noisy, clean, sigma: float, args, patch: int, tmp) -> tuple[str, list | None]:
    """(section A, the Noise2Stack self 4 row on pixel-independent noise, or None)."""
    corr_sigma = sigma if args.corr_sigma_frac is None else args.corr_sigma_frac * float(clean.max())
    correlated = noisy + correlated_field(clean.shape, corr_sigma, args.corr_px, seed=7)
    noises = [("independent", noisy), (f"+ correlated (sigma {corr_sigma:.0f}, {args.corr_px:g} px)", correlated)]
    noises = noises[1:] if args.correlated_only else noises
    rows = []
    for name, stack in noises:
        print(f"A: {name}", flush=True)
        rows.append(score(f"Input, {name}", stack, clean, 0))
        rows.append(train_and_score(f"Noise2Void, {name}", stack, clean, tmp, args.budget, patch, method="n2v"))
        rows.append(
            train_and_score(
                f"Noise2Stack self 4, {name}", stack, clean, tmp, args.budget, patch, method="n2stack", neighbors=4
            )
        )
    gains = [(rows[i + 1][1] - rows[i][1], rows[i + 2][1] - rows[i][1]) for i in range(0, len(rows), 3)]
    text = (
        "## A. Noise2Void against Noise2Stack self 4, pixel-independent and in-plane correlated noise\n\n"
        + markdown_table(HEADER, rows)
        + "\n\nGain over the input (dB), Noise2Void / Noise2Stack self 4: "
        + "; ".join(f"{name}: {g[0]:+.2f} / {g[1]:+.2f}" for (name, _), g in zip(noises, gains))
        + ".\n"
    )
    return text, None if args.correlated_only else rows[2]


def experiment_b(noisy, clean, self4: list | None, args, patch: int, tmp) -> str:
    """Section B: Noise2Clean on one plane and on the plane + 4 neighbours, beside Noise2Stack self 4."""
    print("B", flush=True)
    common = dict(tmp=tmp, budget=args.budget, patch=patch)
    rows = [
        train_and_score("Noise2Clean, 1 plane", noisy, clean, targets=[clean], method="n2c", **common),
        train_and_score(
            "Noise2Clean, plane + 4 neighbours", noisy, clean, targets=[clean], method="n2c", neighbors=4, **common
        ),
        self4 or train_and_score("Noise2Stack self 4", noisy, clean, method="n2stack", neighbors=4, **common),
    ]
    return (
        "## B. Noise2Clean with and without the neighbours Noise2Stack sees\n\n" + markdown_table(HEADER, rows) + "\n"
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per row")
    parser.add_argument("--corr-px", type=float, default=1.0)
    parser.add_argument(
        "--corr-sigma-frac",
        type=float,
        default=None,
        help="standard deviation of the correlated field as a fraction of the image maximum [default: the Gaussian sigma]",
    )
    parser.add_argument("--correlated-only", action="store_true", help="A: skip the pixel-independent rows")
    parser.add_argument("--name", default="microscopy_claims", help="stem of the result file")
    parser.add_argument("--experiments", nargs="+", default=["A", "B"], choices=["A", "B"])
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with a short --budget)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    ds = DATASETS["cells3d"]
    clean = ds.clean()
    noise = resolve_noise(ds.noise, clean)
    noisy = simulate(clean, noise, 0)  # as papers.compare_methods (seed 0)
    patch = int(min(64, min(clean.shape[1:]) // 4 * 4))
    body = [
        f"Data: {ds.name}, {ds.describe()} (sigma = {noise['sigma']:.0f}); CARE-normalised metrics against the clean "
        f"stack; every trained row {args.budget:.0f} s wall clock, seed 0, patch {patch}.\n"
    ]
    self4 = None
    with tempfile.TemporaryDirectory() as tmp:
        if "A" in args.experiments:
            text, self4 = experiment_a(noisy, clean, noise["sigma"], args, patch, tmp)
            body.append(text)
        if "B" in args.experiments:
            body.append(experiment_b(noisy, clean, self4, args, patch, tmp))
    write_result(
        __package__,
        f"{args.name}.md",
        "Microscopy claims: noise correlation and neighbour information",
        "\n".join(body),
        smoke=args.smoke,
        seeds="training 0; noise 0 (as papers.compare_methods), correlated field 7",
        budget=f"{args.budget:g} s wall clock per trained row",
        tuned="the noisy cells3d crop itself (Noise2Clean: against the clean crop)",
        scored="the same noisy crop's prediction against the clean crop (CARE-normalised)",
    )


if __name__ == "__main__":
    main()
