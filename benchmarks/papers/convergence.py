"""PSNR against training budget for each seed method and its paper's baselines (issue 23, item 1).

    python -m benchmarks.papers.convergence --family nrrn [--budgets 60 300 900 1800] [--seeds 0 1 2]
    python -m benchmarks.papers.convergence --family pn2v --paper --device cuda   # the paper's full budget
    python -m benchmarks.papers.convergence --family n2sr --smoke
    python -m benchmarks.papers.convergence --family nrrn --budgets 1800 --earlier convergence_nrrn.md
    python -m benchmarks.papers.convergence --family n2sr --budgets 1800 --curves Noise2Void Noise2Noise --earlier convergence_n2sr.md

Every point is its own training run (``max_time`` seconds, the learning-rate schedule fitted to that
budget), not a snapshot of one long run: a point says what a user gets for that budget. Families,
each on the nearest data of ``../shared/data`` with its paper's noise (train planes -> held-out test
planes with fresh noise):

* ``nrrn`` (paper 003): ISBI EM re-sliced along X (planes 4 nm apart, as the paper's 5 nm FIB-SEM),
  Poisson peak 8; NRRN, Noise2Void, Noise2Clean; patch 24 for the U-Nets (planes are 30 px high).
* ``pn2v`` (paper 004): Tribolium, Poisson-Gaussian (peak 30, sigma 2 % of the maximum); PN2V with the
  noise model estimated from the noisy training planes, Noise2Void, Noise2Clean (the supervised
  baseline).
* ``n2sr`` (paper 002): Tribolium scaled to 0-255, Poisson (lambda 15) + Gaussian (sigma 5), the
  paper's mixed noise; Noise2SR on its 128 x 128 patches, and on 64 x 64 with the polyphase inference
  and with the mean of the paper's and the polyphase paths (``papers/results/n2sr_inference.md``),
  Noise2Void, Noise2Noise (a second copy).

``--paper`` replaces the budgets by the paper's own schedule in steps (NRRN: 15 000 steps of batch 16
on 256 x 256, Adam 1e-4; PN2V: 10 000 steps of batch 80 on 100 x 100, K = 800, Adam 1e-4; Noise2SR:
20 000 steps of batch 16 on 128 x 128, Adam 1e-4) for the seed method, and the same number of steps
for the baselines at their defaults: hours on a CPU, for a GPU (``--device cuda`` refuses to start without one;
``auto``, the default, lets Lightning train on a GPU when torch sees one; prediction stays on the CPU).
``--curves LABEL ...`` runs only those curves (the others keep their ``--earlier`` points, or none).
``--earlier RESULT.md`` folds in the points of an earlier result of the same family (read from its
``Raw:`` line; the text names the file and its commit), so a long budget can be added in a later
session without rerunning the short ones, and a seed to a point run before (a cell pools its runs
over seeds; a rerun of the same seed replaces the earlier run):

    python -m benchmarks.papers.convergence --family pn2v --budgets 1800 --seeds 1 \\
        --curves "PN2V (est. NM)" Noise2Void --earlier convergence_pn2v.md --name convergence_pn2v_seeds
PSNR (dB) against the clean test planes (``api.evaluate``, no normalisation). Writes
``papers/results/convergence_<family>.md`` and ``.png`` (one curve per method, mean ± sd over seeds), or
``--name``'s.
"""

from __future__ import annotations

import argparse
import ast
import re
import statistics
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    DATASETS,
    EM_TEST,
    EM_TRAIN,
    NOISE_SEEDS,
    load_stack,
    markdown_table,
    noisy_split,
    result_path,
    simulate,
    step_schedule,
    steps_done,
    timed,
    write_result,
)
from benchmarks.papers._rows import reslice
from noise2stack import api


@dataclass
class Curve:
    label: str
    options: dict
    needs: str = ""  # "clean" or "copy": the training target
    paper: dict = field(default_factory=dict)  # the paper's schedule (steps, batch, patch, lr, ...)
    predict: dict = field(default_factory=dict)  # prediction options (Noise2SR's sr_inference)


FAMILIES = {
    "nrrn": [
        Curve("NRRN", {"method": "nrrn"}, paper={"steps": 15_000, "batch": 16, "patch": 24, "lr": 1e-4}),
        Curve("Noise2Void", {"method": "n2v", "patch": 24}),
        Curve("Noise2Clean", {"method": "n2c", "patch": 24}, needs="clean"),
    ],
    "pn2v": [
        Curve(
            "PN2V (est. NM)",
            {"method": "pn2v", "noise_model": "estimated"},
            paper={"steps": 10_000, "batch": 80, "patch": 100, "lr": 1e-4, "pn2v_samples": 800},
        ),
        Curve("Noise2Void", {"method": "n2v"}),
        Curve("Noise2Clean", {"method": "n2c"}, needs="clean"),
    ],
    "n2sr": [
        Curve("Noise2SR", {"method": "n2sr", "patch": 128}, paper={"steps": 20_000, "batch": 16, "lr": 1e-4}),
        Curve("Noise2SR (64², polyphase)", {"method": "n2sr", "patch": 64}, predict={"sr_inference": "polyphase"}),
        Curve("Noise2SR (64², mean)", {"method": "n2sr", "patch": 64}, predict={"sr_inference": "mean"}),
        Curve("Noise2Void", {"method": "n2v"}),
        Curve("Noise2Noise", {"method": "n2n"}, needs="copy"),
    ],
}
DATA = {
    "nrrn": "ISBI EM re-sliced along X (planes 4 nm apart), Poisson peak 8, train volume -> test volume",
    "pn2v": "Tribolium, Poisson-Gaussian peak 30, sigma 2 % of the maximum; planes 0-59 -> 60-99",
    "n2sr": "Tribolium scaled to 0-255, Poisson lambda 15 + Gaussian sigma 5; planes 0-59 -> 60-99",
}


def family_data(family: str, smoke: bool) -> dict[str, np.ndarray]:
    """train, copy (a second noisy copy), train_clean, test, test_clean: float32 ZYX."""
    if family == "nrrn":
        noise = {"noise": "poisson", "peak": 8.0}
        train_clean, test_clean = (load_stack(p).astype(np.float32) for p in (EM_TRAIN, EM_TEST))
        train_clean, test_clean = reslice(train_clean), reslice(test_clean, 128)
        data = {
            "train": simulate(train_clean, noise, NOISE_SEEDS["train"]),
            "copy": simulate(train_clean, noise, NOISE_SEEDS["copy"]),
            "train_clean": train_clean,
            "test": simulate(test_clean, noise, NOISE_SEEDS["test"]),
            "test_clean": test_clean,
        }
    else:
        clean = DATASETS["tribolium"].clean()
        noise = DATASETS["tribolium"].noise
        if family == "n2sr":
            clean = 255 * (clean - clean.min()) / (clean.max() - clean.min())
            noise = {"noise": "poisson-gaussian", "peak": 15.0, "sigma": 5.0}
        split = noisy_split(clean, noise)
        data = {
            "train": split.train,
            "copy": split.copy,
            "train_clean": split.train_clean,
            "test": split.test,
            "test_clean": split.test_clean,
        }
    if smoke:
        data = {k: v[:6, :24, :64] for k, v in data.items()}
    return data


def run_point(curve: Curve, data: dict, schedule: dict, seed: int, folder: Path) -> dict:
    """Train one model under ``schedule`` (``max_time`` or a step schedule) and score it."""
    targets = {"clean": [data["train_clean"]], "copy": [data["copy"]]}.get(curve.needs)
    options = {**curve.options, **schedule}
    if options.get("noise_model") == "estimated":
        api.noise_model(folder.with_suffix(".npz"), estimate_from=data["train"])  # no calibration data
        options.update(noise_model=str(folder.with_suffix(".npz")), noise_model_clip=True)
    model, seconds = timed(api.train, data["train"], folder, targets=targets, seed=seed, progress=False, **options)
    prediction = api.predict(model, data["test"], progress=False, **curve.predict)
    steps = steps_done(folder)
    return {
        "psnr": float(api.evaluate(prediction, data["test_clean"], normalize="none")["psnr"]),
        "steps": steps,
        "patches": steps * model.config.data.batch,
        "train_seconds": seconds,
        "seed": seed,
    }


def schedules(curve: Curve, args) -> list[tuple[str, dict]]:
    """(budget label, training options) of every point of one curve."""
    if args.smoke:
        return [("2 steps", {"epochs": 1, "steps_per_epoch": 2, "batch": 2, "patch": 16})]
    if args.paper:
        paper = dict(next(c for c in FAMILIES[args.family] if c.paper).paper)
        steps = paper.pop("steps")
        own = curve.paper and {k: v for k, v in curve.paper.items() if k != "steps"}
        return [(f"{steps} steps (paper)", {**step_schedule(steps), **(own or {"batch": paper["batch"]})})]
    return [(f"{b:.0f} s", {"max_time": b}) for b in args.budgets]


def earlier_points(path: Path) -> tuple[dict, str]:
    """The points (label -> budget -> runs) of an earlier result file, and its stamp's commit with the
    CPU it ran on where the stamp names one (the machine can differ between sessions). Runs written
    before each run carried its seed get theirs from the stamp's ``seeds training [...]``, in order."""
    text = path.read_text()
    raw = re.search(r"^Raw: `(.*)`$", text, re.MULTILINE)
    commit = re.search(r"^- commit (\S+)", text, re.MULTILINE)
    if raw is None or commit is None:
        raise SystemExit(f"{path}: no 'Raw:' line or stamp commit; is it a convergence result?")
    cpu = re.search(r"^- cpu (.+)$", text, re.MULTILINE)
    stamped = re.search(r"^- seeds training (\[[\d, ]*\])", text, re.MULTILINE)
    seeds = ast.literal_eval(stamped.group(1)) if stamped else []
    points = ast.literal_eval(raw.group(1))
    for runs in (runs for budgets in points.values() for runs in budgets.values()):
        for run, seed in zip(runs, seeds):
            run.setdefault("seed", seed)
    chained = re.search(r"^- budget .*; earlier points from (.+)$", text, re.MULTILINE)
    origin = commit.group(1) + (f", cpu {cpu.group(1)}" if cpu else "")
    return points, origin + (f"; its own earlier points from {chained.group(1)}" if chained else "")


def merged(points: dict, earlier: dict) -> dict:
    """``earlier`` and ``points`` in one dict, budgets in increasing seconds. The runs of one budget are
    pooled over seeds, so a later session can add seeds to a point; a new run replaces an earlier run
    of the same seed (or any earlier run, where neither names its seed)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for label in dict.fromkeys([*earlier, *points]):
        old, new = earlier.get(label, {}), points.get(label, {})
        budgets = {
            budget: list({run.get("seed"): run for run in [*old.get(budget, []), *new.get(budget, [])]}.values())
            for budget in dict.fromkeys([*old, *new])
        }
        out[label] = dict(sorted(budgets.items(), key=lambda item: budget_seconds(item[0], item[1])))
    return out


def seeds_of(points: dict) -> list[int]:
    """Every training seed named by a run of ``points``, in increasing order."""
    runs = (run for budgets in points.values() for runs in budgets.values() for run in runs)
    return sorted({run["seed"] for run in runs if run.get("seed") is not None})


def budget_seconds(budget: str, runs: list[dict]) -> float:
    """A budget label's seconds ("300 s" -> 300); a step budget's mean training seconds."""
    number, unit = budget.split()[:2]
    return float(number) if unit == "s" else statistics.fmean(r["train_seconds"] for r in runs)


def crossings(family: str, points: dict) -> list[str]:
    """Where each curve of the seed method crosses each baseline's (means over seeds), in words."""
    method = FAMILIES[family][0].options["method"]
    own = [c.label for c in FAMILIES[family] if c.options["method"] == method and c.label in points]
    baselines = [c.label for c in FAMILIES[family] if c.options["method"] != method]
    lines = []
    for seed_method, other in ((s, o) for s in own for o in baselines):
        signs = [
            (budget, mean(points[seed_method][budget]) - mean(points[other][budget]))
            for budget in points[seed_method]
            if budget in points[other]
        ]
        text = ", ".join(f"{b}: {d:+.2f} dB" for b, d in signs)
        changes = [b for (a, da), (b, db) in zip(signs, signs[1:]) if (da > 0) != (db > 0)]
        where = f"crosses between the budgets before {', '.join(changes)}" if changes else "does not cross"
        lines.append(f"- {seed_method} − {other}: {text} ({where}).")
    return lines


def mean(runs: list[dict]) -> float:
    return statistics.fmean(r["psnr"] for r in runs)


def cell(runs: list[dict]) -> str:
    values = [r["psnr"] for r in runs]
    sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    steps = statistics.fmean(r["steps"] for r in runs)
    patches = statistics.fmean(r["patches"] for r in runs)
    count = f"{len(values)} seeds, " if len(values) > 1 else ""
    return f"{statistics.fmean(values):.2f}{sd} ({count}{steps:.0f} steps, {patches:.0f} patches)"


def plot(points: dict, seconds: dict, path: Path, title: str) -> None:
    """PSNR against training seconds, one curve per method (mean ± sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, budgets in points.items():
        xs = [seconds[b] for b in budgets]
        ys = [mean(runs) for runs in budgets.values()]
        sds = [statistics.stdev([r["psnr"] for r in runs]) if len(runs) > 1 else 0.0 for runs in budgets.values()]
        ax.errorbar(xs, ys, yerr=sds, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training budget (s)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(textwrap.fill(title, 70), fontsize=9)  # the data line is longer than the axes
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def choose_device(device: str, parser: argparse.ArgumentParser) -> None:
    """Make training run on ``device``: Lightning picks a GPU when torch sees one (``auto``)."""
    import os

    import torch

    if device == "cpu":  # read when CUDA first initialises, which nothing has done yet
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device on this machine")


def provenance_text(ran: dict[str, list[str]], earlier: str | None, commit: str) -> str:
    """Which points ran here (per curve: with ``--curves`` a budget run here for one curve may come
    from ``--earlier`` for another) and where the others come from; empty without ``--earlier``."""
    if not earlier:
        return ""
    ran_text = "; ".join(f"{label} at {', '.join(budgets)}" for label, budgets in ran.items())
    return f" Run here: {ran_text}; every other point from `{earlier}` (commit {commit})."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", required=True, choices=list(FAMILIES))
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 300, 900, 1800], help="seconds per point")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds per point")
    parser.add_argument("--paper", action="store_true", help="the paper's step budget instead (for a GPU)")
    parser.add_argument("--smoke", action="store_true", help="tiny crops, 2 steps per point")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: a GPU when torch sees one"
    )
    parser.add_argument("--earlier", help="an earlier result of this family (file name under papers/results)")
    parser.add_argument("--curves", nargs="+", help="run only these curves (labels; default all)")
    parser.add_argument("--name", help="result file name without extension (default convergence_FAMILY)")
    args = parser.parse_args(argv)
    choose_device(args.device, parser)
    labels = [c.label for c in FAMILIES[args.family]]
    unknown = [c for c in args.curves or [] if c not in labels]
    if unknown:
        parser.error(f"--curves: {unknown[0]!r} is not a curve of {args.family}; choose from {labels}")
    earlier, earlier_commit = ({}, "")
    if args.earlier:
        earlier, earlier_commit = earlier_points(result_path(__package__, args.earlier, False))
    data = family_data(args.family, args.smoke)
    points: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for number, curve in enumerate(FAMILIES[args.family]):
            if args.curves and curve.label not in args.curves:
                continue
            for budget, schedule in schedules(curve, args):
                for seed in args.seeds:
                    folder = Path(tmp) / f"{number}_{curve.label.split()[0]}_{budget.split()[0]}_{seed}"
                    point = run_point(curve, data, schedule, seed, folder)
                    points.setdefault(curve.label, {}).setdefault(budget, []).append(point)
                    print(
                        f"{curve.label} {budget} seed {seed}: {point['psnr']:.2f} dB, {point['steps']} steps",
                        flush=True,
                    )
    provenance = provenance_text({label: list(runs) for label, runs in points.items()}, args.earlier, earlier_commit)
    ran = {b for runs in points.values() for b in runs}
    points = merged(points, earlier)
    # one x per budget for every curve: a step budget takes the first curve's mean seconds
    seconds = {b: budget_seconds(b, runs) for curve in reversed(points.values()) for b, runs in curve.items()}
    budgets = sorted(seconds, key=seconds.__getitem__)
    table = [[label, *(cell(points[label][b]) if b in points[label] else "" for b in budgets)] for label in points]
    name = args.name or f"convergence_{args.family}{'_paper' if args.paper else ''}"
    plot(points, seconds, result_path(__package__, f"{name}.png", args.smoke), DATA[args.family])
    input_psnr = api.evaluate(data["test"], data["test_clean"], normalize="none")["psnr"]
    seeds = seeds_of(points)
    text = (
        f"{DATA[args.family]}; input {input_psnr:.2f} dB. PSNR (dB) on the test planes, mean ± sd over training "
        f"seeds {seeds} (a cell names its number of seeds where it has more than one); steps and "
        f"patches seen (steps × batch, means) in brackets. Figure: `{name}.png`.{provenance}\n\n"
        + markdown_table(["method", *budgets], table)
        + "\n\n"
        + "\n".join(crossings(args.family, points))
        + f"\n\nRaw: `{points}`"
    )
    write_result(
        __package__,
        f"{name}.md",
        f"PSNR against training budget: {args.family} and its paper's baselines",
        text,
        smoke=args.smoke,
        seeds=f"training {seeds} (run here: {args.seeds}); noise: train 0, copy 1, test 2",
        budget=", ".join(b for b in budgets if b in ran)
        + " per point (each point its own run)"
        + (f"; earlier points from {earlier_commit}" if args.earlier else ""),
        tuned="nothing (every method at its defaults; the seed method at the paper's schedule with --paper)",
        scored=DATA[args.family],
    )


if __name__ == "__main__":
    main()
