"""The paper's MRI experiment (000 §3.1, Table 1 MRI block, Figures 3, 4, 5A) on the MNI152 template.

    python -m benchmarks.papers.mri_experiment [--budget 60] [--patch 64] [--seed 0] [--haase] [--name mri_experiment]

The template is near noise-free, so it is the clean reference: its 100 middle planes, zero-padded to
256x256, corrupted twice independently by k-space undersampling keeping 10 %. Every trainable row
gets the same wall-clock budget and the paper's MRI recipe (Table S2 net, [-0.5, 0.5] scaling,
translations as the only augmentation); models are trained on the corrupted volume itself (there is
no separate training set here) and scored against the clean planes, before and after the spectral
post-processing (copy-supervised rows use both sidecars, self-supervised rows only their own).
Writes ``papers/results/<--name>.md`` and its PNGs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    HAASE,
    MNI152,
    load_stack,
    markdown_table,
    middle_planes,
    pad256,
    result_path,
    write_result,
)
from noise2stack import api
from noise2stack.noise.kspace import spectral_consistency, undersample  # internal: k-space on any array

MRI = {"net": "n2n-unet", "residual": False, "normalization": "minmax", "augmentation": "translate"}
ROWS = [
    ("Noise2Noise", "n2n", {}, "copy"),
    ("Noise2Stack copy 1+2", "n2stack", {"mode": "copy", "neighbors": 2}, "copy"),
    ("Noise2Stack copy 1+4", "n2stack", {"mode": "copy", "neighbors": 4}, "copy"),
    ("Noise2Stack copy 1+6", "n2stack", {"mode": "copy", "neighbors": 6}, "copy"),
    ("Noise2Stack self 2", "n2stack", {"mode": "self", "neighbors": 2}, "self"),
    ("Noise2Stack self 4", "n2stack", {"mode": "self", "neighbors": 4}, "self"),
    ("Noise2Stack self 6", "n2stack", {"mode": "self", "neighbors": 6}, "self"),
]
HEADER = ["method", "epochs", "PSNR before", "PSNR after", "SSIM before", "SSIM after", "NRMSE before", "NRMSE after"]


def stats(metrics: dict) -> dict:
    """Mean and 95 % confidence half-width over the planes of PSNR, SSIM, NRMSE; the PSNR per plane."""
    out = {}
    for key in ("psnr", "ssim", "nrmse"):
        values = np.array([p[key] for p in metrics["per_plane"]])
        out[key] = (values.mean(), 1.96 * values.std(ddof=1) / np.sqrt(len(values)))
    out["per_plane_psnr"] = [p["psnr"] for p in metrics["per_plane"]]
    return out


def run(clean: np.ndarray, rows, budget: float, patch: int, tmp: Path, seed: int = 0) -> dict:
    """label -> (stats before, stats after post-processing, the raw prediction, epochs)."""
    a, side_a = undersample(clean, 0.1, seed=1)
    b, side_b = undersample(clean, 0.1, seed=2)
    direct = spectral_consistency(a, [side_a, side_b])
    results = {"Direct inverse FFT": (stats(api.evaluate(a, clean)), stats(api.evaluate(direct, clean)), a, None)}
    for label, method, options, kind in rows:
        model = api.train(
            a,
            tmp / label.replace(" ", "_"),
            targets=[b] if kind == "copy" else None,
            progress=False,
            method=method,
            max_time=budget,
            seed=seed,
            patch=patch,
            **MRI,
            **options,
        )
        before = api.predict(model, a, progress=False)
        after = spectral_consistency(before, [side_a, side_b] if kind == "copy" else [side_a])
        results[label] = (
            stats(api.evaluate(before, clean)),
            stats(api.evaluate(after, clean)),
            before,
            model.config.training.epochs,
        )
        print(label, f"{results[label][0]['psnr'][0]:.2f} / {results[label][1]['psnr'][0]:.2f} dB", flush=True)
    return results


def table(results: dict) -> str:
    rows = []
    for label, (before, after, _, epochs) in results.items():

        def cell(s: dict, key: str, f: str) -> str:
            return f"{s[key][0]:{f}} ± {s[key][1]:{f}}"

        rows.append(
            [label, epochs or "-"]
            + [cell(s, k, f) for k, f in (("psnr", ".2f"), ("ssim", ".3f"), ("nrmse", ".3f")) for s in (before, after)]
        )
    return markdown_table(HEADER, rows)


def plot_figures(results: dict, axes) -> None:
    """Figure 4 (PSNR against input planes) and Figure 5A (PSNR against plane position)."""
    for kind, xs, marker in (("copy", [1, 3, 5, 7], "o"), ("self", [2, 4, 6], "s")):
        labels = (
            ["Noise2Noise"] + [f"Noise2Stack copy 1+{n}" for n in (2, 4, 6)]
            if kind == "copy"
            else [f"Noise2Stack self {n}" for n in (2, 4, 6)]
        )
        for phase, style in ((0, "--"), (1, "-")):
            ys = [results[lab][phase]["psnr"][0] for lab in labels if lab in results]
            err = [results[lab][phase]["psnr"][1] for lab in labels if lab in results]
            label = f"{kind}, {'after' if phase else 'before'} post-processing"
            axes[0].errorbar(xs[: len(ys)], ys, yerr=err, ls=style, marker=marker, label=label)
    axes[0].set(xlabel="input planes", ylabel="PSNR (dB)", title="Figure 4: PSNR against input planes")
    axes[0].legend(fontsize=7)
    for label in ("Direct inverse FFT", "Noise2Stack copy 1+4"):
        if label in results:
            axes[1].plot(results[label][1]["per_plane_psnr"], label=f"{label} (after)")
    axes[1].set(xlabel="plane", ylabel="PSNR (dB)", title="Figure 5A: PSNR against plane position")
    axes[1].legend(fontsize=7)


def plots(results: dict, clean: np.ndarray, stem: str, smoke: bool) -> None:
    """``<stem>_plots.png`` (Figures 4 and 5A) and ``<stem>_panel.png`` (the middle plane of each row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from noise2stack.plots import image_panel  # internal: the package's panel figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_figures(results, axes)
    fig.tight_layout()
    fig.savefig(result_path(__package__, f"{stem}_plots.png", smoke), dpi=90)
    mid = clean.shape[0] // 2
    shown = {
        k: results[k][2]
        for k in ("Direct inverse FFT", "Noise2Noise", "Noise2Stack copy 1+4", "Noise2Stack self 4")
        if k in results
    }
    titles = {k: f"{k}\n{results[k][0]['per_plane_psnr'][mid]:.1f} dB" for k in shown}
    path = result_path(__package__, f"{stem}_panel.png", smoke)
    image_panel(path, {**shown, "Reference": clean}, [mid], titles=titles, reference="Reference", columns_per_row=5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per row")
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--rows", nargs="*", default=None, help="row labels (default: all)")
    parser.add_argument("--haase", action="store_true", help="also the best two rows on the Haase MRI volume")
    parser.add_argument("--seed", type=int, default=0, help="training seed (the corruptions keep seeds 1 and 2)")
    parser.add_argument("--name", default="mri_experiment", help="stem of the result files")
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with a short --budget)")
    args = parser.parse_args(argv)
    rows = [r for r in ROWS if args.rows is None or r[0] in args.rows]
    volume = load_stack(MNI152).astype(np.float32)
    z0, planes = middle_planes(volume, 100)
    clean = pad256(planes)
    body = (
        f"MNI152 2009a template, planes {z0}-{z0 + 99} of {volume.shape[0]}, zero-padded to 256x256; two independent "
        f"k-space corruptions keeping 10 % (seeds 1, 2). Every trainable row: {args.budget:.0f} s wall-clock training on "
        f"2 CPU cores, Table S2 net, [-0.5, 0.5] scaling, translations 0-64 px, {args.patch}x{args.patch} patches, batch 16, "
        f"training seed {args.seed}; trained on the corrupted volume itself. Mean ± 95 % confidence half-width over the 100 planes. "
        "'After' = spectral post-processing (copy rows and the direct row: both copies' samples; self rows: their own).\n\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = run(clean, rows, args.budget, args.patch, Path(tmp), args.seed)
        body += table(results)
        plots(results, clean, args.name, args.smoke)
        if args.haase:
            (Path(tmp) / "haase").mkdir()
            haase = pad256(load_stack(HAASE).astype(np.float32)[10:110])
            best = [r for r in ROWS if r[0] in ("Noise2Stack copy 1+4", "Noise2Stack self 4")]
            res_h = run(haase, best, args.budget, args.patch, Path(tmp) / "haase", args.seed)
            body += "\n\n## Haase T1 MRI (planes 10-109 of 120, 160x160 padded to 256x256), best two rows\n\n" + table(
                res_h
            )
    print(body)
    write_result(
        __package__,
        f"{args.name}.md",
        "MRI experiment (paper Table 1, MRI block)",
        body,
        smoke=args.smoke,
        seeds=f"training {args.seed}; k-space corruptions 1 (A) and 2 (B)",
        budget=f"{args.budget:g} s wall clock per trainable row",
        tuned="the corrupted volume A itself (copy rows: A -> B)",
        scored="the predictions of A against the clean template planes (and Haase planes with --haase)",
    )


if __name__ == "__main__":
    main()
