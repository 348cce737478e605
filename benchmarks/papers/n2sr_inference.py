"""Noise2SR's ways to the denoised plane, and its patch, against Noise2Void (issue 23, item 4).

    python -m benchmarks.papers.n2sr_inference [--budget 120] [--seeds 0] [--datasets ...]
    python -m benchmarks.papers.n2sr_inference --smoke

Paper 002 §2.4 feeds the whole noisy plane to a network trained only on planes sub-sampled by 2, then
averages each 2x2 cell of the 2x output (``predict --sr-inference paper``, the default). The
authors' code (MeijiTian/Noise2SR) does the same with ``align_corners=True``. ``polyphase`` feeds
the four 2x2 polyphase components instead, as in training, and keeps for every pixel the mean of the
three predictions made without it; ``mean`` averages the two. One Noise2SR model per dataset and
seed (64 x 64 patches, 32 x 32 after sub-sampling) is scored by the three paths, beside Noise2Void
at the same budget; on the paper's noise (Tribolium 0-255, Poisson 15 + Gaussian 5) also a model on
the paper's 128 x 128 patches. Train planes -> held-out test planes with fresh noise
(``harness.noisy_split``), PSNR (dB) against the clean test planes without normalisation.
Writes ``papers/results/<--name>.md`` and ``.png`` (a crop of each dataset: clean, noisy, the
paths, Noise2Void).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    DATASETS,
    markdown_table,
    noisy_split,
    result_path,
    steps_done,
    timed,
    write_result,
)
from noise2stack import api

PATHS = ("paper", "polyphase", "mean")
PAPER_NOISE = {"noise": "poisson-gaussian", "peak": 15.0, "sigma": 5.0}


def dataset(key: str) -> tuple[str, np.ndarray, dict]:
    """(description, clean float32 ZYX, noise) of ``key``; ``tribolium-paper`` is paper 002's noise."""
    if key == "tribolium-paper":
        clean = DATASETS["tribolium"].clean()
        clean = 255 * (clean - clean.min()) / (clean.max() - clean.min())
        return "Tribolium scaled to 0-255, Poisson 15 + Gaussian 5 (paper 002)", clean, PAPER_NOISE
    ds = DATASETS[key]
    return f"{ds.name}, {ds.describe()}", ds.clean(), ds.noise


def models(key: str, clean: np.ndarray) -> list[tuple[str, dict]]:
    """(row label, training options) of the models trained on ``key``."""
    side = min(64, *(2 * (s // 2) for s in clean.shape[1:]))  # cells3d planes are 60 x 50
    rows = [
        (f"Noise2SR, patch {side}", {"method": "n2sr", "patch": side}),
        ("Noise2Void", {"method": "n2v", "patch": side}),
    ]
    if key == "tribolium-paper":
        rows.insert(1, ("Noise2SR, patch 128 (paper)", {"method": "n2sr", "patch": 128}))
    return rows


def score(prediction: np.ndarray, clean: np.ndarray) -> float:
    return float(api.evaluate(prediction, clean, normalize="none")["psnr"])


def run_dataset(key: str, budget: float, seeds: list[int], smoke: bool) -> dict:
    """Every model of ``key`` per seed: steps, and PSNR per inference path; the first seed's crops."""
    name, clean, noise = dataset(key)
    split = noisy_split(clean, noise)
    train, test, test_clean = split.train, split.test, split.test_clean
    if smoke:
        train, test, test_clean = train[:3, :32, :32], test[:2, :32, :32], test_clean[:2, :32, :32]
    plane = test.shape[0] // 2
    rows: dict[str, list[dict]] = {}
    crops = {"clean": test_clean[plane], "noisy": test[plane]}
    for label, options in models(key, clean):
        for seed in seeds:
            schedule = {"epochs": 1, "steps_per_epoch": 2, "patch": 16} if smoke else {"max_time": budget}
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "model"
                model, seconds = timed(api.train, train, folder, seed=seed, progress=False, **{**options, **schedule})
                run = {"steps": steps_done(folder), "batch": model.config.data.batch, "seconds": seconds}
                for path in PATHS if options["method"] == "n2sr" else ("",):
                    extra = {"sr_inference": path} if path else {}
                    prediction = api.predict(model, test, progress=False, **extra)
                    run[path or "psnr"] = score(prediction, test_clean)
                    if seed == seeds[0] and not label.endswith("(paper)"):
                        crops[f"{label.split(',')[0]} {path}".strip()] = prediction[plane]
            rows.setdefault(label, []).append(run)
            print(key, label, seed, {k: round(v, 3) for k, v in run.items()}, flush=True)
    return {"name": name, "input": score(test, test_clean), "rows": rows, "crops": crops}


def spread(values: list[float]) -> str:
    sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.2f}{sd}"


def table(results: dict) -> str:
    header = ["dataset", "model", "steps (patches)", *(f"{p} (dB)" for p in PATHS), "polyphase − paper"]
    rows = []
    for key, result in results.items():
        for label, runs in result["rows"].items():
            steps = statistics.fmean(r["steps"] for r in runs)
            seen = f"{steps:.0f} ({steps * runs[0]['batch']:.0f})"
            if "psnr" in runs[0]:
                rows.append([key, label, seen, spread([r["psnr"] for r in runs]), "", "", ""])
                continue
            gain = spread([r["polyphase"] - r["paper"] for r in runs])
            rows.append([key, label, seen, *(spread([r[p] for r in runs]) for p in PATHS), gain])
    return markdown_table(header, rows)


def draw(path: Path, results: dict) -> None:
    """One row per dataset: a 96 x 96 crop of each image, one grey scale per row (the clean crop's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(r["crops"]) for r in results.values())
    fig, axes = plt.subplots(len(results), columns, figsize=(2.2 * columns, 2.4 * len(results)), squeeze=False)
    for row, (key, result) in zip(axes, results.items()):
        clean = result["crops"]["clean"]
        y0, x0 = (max(0, (s - 96) // 2) for s in clean.shape)
        low, high = np.percentile(clean, [1, 99.5])
        for ax, (title, image) in zip(row, result["crops"].items()):
            ax.imshow(image[y0 : y0 + 96, x0 : x0 + 96], cmap="gray", vmin=low, vmax=high)
            ax.set_title(f"{key}\n{title}" if title == "clean" else title, fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = ["tribolium-paper", *DATASETS]
    default = ["tribolium-paper", "cells3d", "isbi-em", "arabidopsis"]  # smooth nuclei to thin membranes
    parser.add_argument("--datasets", nargs="+", default=default, choices=keys)
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--name", default="n2sr_inference", help="result file name (without .md)")
    parser.add_argument("--smoke", action="store_true", help="2 steps on 32 x 32 crops")
    args = parser.parse_args(argv)
    results = {key: run_dataset(key, args.budget, args.seeds, args.smoke) for key in args.datasets}
    figure = f"{args.name}.png"
    draw(result_path(__package__, figure, args.smoke), results)
    notes = "\n".join(f"- {key}: {r['name']}; noisy input {r['input']:.2f} dB." for key, r in results.items())
    body = (
        f"PSNR (dB) on the held-out test planes, mean ± sd over training seeds {args.seeds}; one model per row "
        f"and seed, {args.budget:.0f} s each, scored by each inference path (Noise2Void has one). "
        f"Figure: `{figure}` (seed {args.seeds[0]}, the middle test plane).\n\n{notes}\n\n{table(results)}"
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "Noise2SR: the paper's inference path against the polyphase one",
        body,
        smoke=args.smoke,
        seeds=f"training {args.seeds}; noise: train 0, test 2 (harness.noisy_split)",
        budget=f"{args.budget:.0f} s wall clock per model" if not args.smoke else "2 steps (smoke)",
        tuned="nothing (every method at its defaults but the patch named in the row)",
        scored="the first 60 % of each stack's planes trained, the rest scored, each with its own noise",
    )


if __name__ == "__main__":
    main()
