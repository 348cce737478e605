"""NRRN's step cost and its quality against Noise2Void at equal seconds (issue 23, item 2).

    python -m benchmarks.papers.nrrn_budget [--budget 120] [--steps 100] [--smoke]

Part 1, the step: on the Tribolium light-sheet stack (Poisson-Gaussian, peak 30, sigma 2 % of the
maximum; planes 0-59 train, 60-99 test with fresh noise), NRRN trained for ``--steps`` steps of the
issue's step (batch 4 of 64 x 64) with 4 building units (the paper's text) or 1 (its authors' code),
in float32 or bf16 autocast: the median seconds per step (data, forward, consensus loss, backward,
Adam: every call of the trainer's ``training_step``) and the PSNR those steps reach, so that speed
is read beside quality per step. The last row is today's default step (batch 4 of 16 x 16).

Part 2, equal seconds: ``--budget`` seconds of training each (``max_time``), everything else at its
default unless the row says, on four stacks: Tribolium and Arabidopsis (Poisson-Gaussian, peak 30,
sigma 8; the same split), ISBI EM re-sliced along X (planes 4 nm apart: neighbouring planes share
signal, paper 003's premise; patch 24, the planes are 30 px high) and ISBI EM's own 50 nm sections
(Poisson peak 8, train volume -> test volume, central 256 x 256; there the premise fails). Rows:
NRRN at today's defaults, NRRN with the data defaults it had before (batch 16 of 64 x 64), and
Noise2Void at its defaults. PSNR (dB) against the clean test planes (``api.evaluate``, no
normalisation). Writes ``papers/results/nrrn_budget.md``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    DATASETS,
    EM_TEST,
    EM_TRAIN,
    NOISE_SEEDS,
    crop,
    load_stack,
    markdown_table,
    noisy_split,
    simulate,
    step_schedule,
    steps_done,
    timed,
    training_step_times,
    write_result,
)
from benchmarks.papers._rows import reslice
from noise2stack import api

STEP_ROWS = [  # (label, options)
    ("4 units, float32, batch 4 of 64²", {"units": 4, "precision": "32", "patch": 64, "batch": 4}),
    ("4 units, bf16, batch 4 of 64²", {"units": 4, "precision": "bf16", "patch": 64, "batch": 4}),
    ("1 unit, float32, batch 4 of 64²", {"units": 1, "precision": "32", "patch": 64, "batch": 4}),
    ("1 unit, bf16, batch 4 of 64²", {"units": 1, "precision": "bf16", "patch": 64, "batch": 4}),
    ("1 unit, bf16, batch 4 of 16² (defaults)", {"units": 1, "precision": "bf16"}),
]
BUDGET_ROWS = [  # (label, options); "patch" None: the stack's own patch (re-sliced planes are 30 px high)
    ("NRRN (defaults)", {"method": "nrrn"}),
    ("NRRN (batch 16 of 64², the earlier data defaults)", {"method": "nrrn", "patch": None, "batch": 16}),
    ("Noise2Void (defaults)", {"method": "n2v", "patch": None}),
]
EM_NOISE = {"noise": "poisson", "peak": 8.0}


def stacks(smoke: bool) -> dict:
    """name -> (train noisy, test noisy, test clean, patch of the rows that take the stack's own)."""
    out = {}
    for key in ("tribolium", "arabidopsis"):
        clean = DATASETS[key].clean()
        split = noisy_split(clean, DATASETS[key].noise)
        out[DATASETS[key].name + ", " + DATASETS[key].describe()] = (split.train, split.test, split.test_clean, 64)
    train, test = (load_stack(p).astype(np.float32) for p in (EM_TRAIN, EM_TEST))
    for name, (a, b, patch) in {
        "ISBI EM re-sliced along X (planes 4 nm apart), Poisson 8": (reslice(train), reslice(test, 128), 24),
        "ISBI EM (50 nm sections), Poisson 8": (train, crop(test, test.shape[0], 256), 64),
    }.items():
        out[name] = (simulate(a, EM_NOISE, NOISE_SEEDS["train"]), simulate(b, EM_NOISE, NOISE_SEEDS["test"]), b, patch)
    if smoke:
        out = {k: (a[:8, :24, :48], b[:6, :24, :48], c[:6, :24, :48], 16) for k, (a, b, c, _) in out.items()}
    return out


def score(model, test: np.ndarray, clean: np.ndarray) -> float:
    return float(api.evaluate(api.predict(model, test, progress=False), clean, normalize="none")["psnr"])


def step_table(data: tuple, steps: int, tmp: Path, smoke: bool) -> list[list]:
    """Part 1: [label, median s/step, steps, PSNR] per row of STEP_ROWS."""
    train, test, clean, _ = data
    rows = []
    for label, options in STEP_ROWS:
        if smoke:
            options = {**options, "patch": 16}
        folder = tmp / f"step_{len(rows)}"
        with training_step_times() as stamps:
            model = api.train(train, folder, method="nrrn", seed=0, progress=False, **options, **step_schedule(steps))
        per_step = statistics.median(np.diff(stamps[2:])) if len(stamps) > 3 else float("nan")
        psnr = score(model, test, clean)
        rows.append([label, f"{per_step:.3f}", steps_done(folder), f"{psnr:.2f}"])
        print(f"{label}: {per_step:.3f} s/step, {psnr:.2f} dB", flush=True)
    return rows


def budget_table(data: dict, budget: float, tmp: Path) -> tuple[list[list], dict]:
    """Part 2: [stack, input, then PSNR (steps) per row of BUDGET_ROWS]; raw numbers."""
    table, raw = [], {}
    for name, (train, test, clean, patch) in data.items():
        cells = [name, f"{api.evaluate(test, clean, normalize='none')['psnr']:.2f}"]
        for label, options in BUDGET_ROWS:
            if name.startswith("ISBI EM (50") and "earlier" in label:
                cells.append("")  # the premise fails there; the two other rows say so
                continue
            options = {k: (patch if v is None else v) for k, v in options.items()}
            folder = tmp / f"budget_{len(raw)}"
            model, seconds = timed(api.train, train, folder, max_time=budget, seed=0, progress=False, **options)
            psnr, steps = score(model, test, clean), steps_done(folder)
            raw[f"{name} | {label}"] = {"psnr": psnr, "steps": steps, "train_seconds": seconds}
            cells.append(f"{psnr:.2f} ({steps})")
            print(f"{name} | {label}: {psnr:.2f} dB, {steps} steps", flush=True)
        table.append(cells)
    return table, raw


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per row of part 2")
    parser.add_argument("--steps", type=int, default=100, help="training steps per row of part 1")
    parser.add_argument("--smoke", action="store_true", help="small crops, 4 steps, 3 s budgets")
    args = parser.parse_args(argv)
    steps, budget = (4, 3.0) if args.smoke else (args.steps, args.budget)
    data = stacks(args.smoke)
    with tempfile.TemporaryDirectory() as tmp:
        step_rows = step_table(next(iter(data.values())), steps, Path(tmp), args.smoke)
        budget_rows, raw = budget_table(data, budget, Path(tmp))
    text = (
        f"## 1. The step (Tribolium, {steps} steps per row, seed 0)\n\n"
        + markdown_table(["NRRN", "seconds per step (median)", "steps", "PSNR (dB)"], step_rows)
        + f"\n\n## 2. Equal seconds: {budget:.0f} s of training per row, seed 0\n\n"
        + "PSNR (dB) on the test planes, optimisation steps in brackets.\n\n"
        + markdown_table(["stack", "input", *(label for label, _ in BUDGET_ROWS)], budget_rows)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(
        __package__,
        "nrrn_budget.md",
        "NRRN: the step's cost, and NRRN against Noise2Void at equal seconds",
        text,
        smoke=args.smoke,
        seeds="training 0; noise: train 0, test 2 (ISBI EM) or the split's (train 0, test 2)",
        budget=f"part 1: {steps} steps per row; part 2: {budget:.0f} s of training per row (max_time)",
        tuned="patch 16 and batch 4 chosen from 60 s runs scored on these same test planes (Tribolium, Arabidopsis, re-sliced EM)",
        scored="held-out test planes with fresh noise (Tribolium, Arabidopsis: planes 60 %-100 %; ISBI EM test volume)",
    )


if __name__ == "__main__":
    main()
