"""PSNR against the training budget, before and after the precision default (issue 13, item 4), and
what ``predict --tta`` buys.

    python benchmarks/budget.py [--budgets 60 120 300] [--smoke]

On the Tribolium stack (Poisson-Gaussian, peak 30, sigma 2 % of the maximum; planes 0-59 train,
60-99 test with fresh noise), for Noise2Stack self (2 neighbours), Noise2Stack copy (1 + 2),
Noise2Void and Noise2Noise, every budget (``--max-time`` seconds, everything else at its default)
runs twice, side by side: *before* = the defaults of 2026-11-30 (``--precision 32``, float32; and for
Noise2Void 0.2 % of the pixels masked with a 5 x 5 replacement window) and *after* = today's defaults
(``--precision auto``: bf16 autocast where the CPU has AVX512-BF16 or AMX; Noise2Void 5 % masked,
11 x 11 window).
Each model of the largest budget is then also predicted with ``--tta``: its gain and its cost.
PSNR (dB) against the clean stack, no normalisation. Writes benchmarks/results/budget.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.noise import add_noise  # noqa: E402
from noise2stack.resources import resolve_precision  # noqa: E402
from paper_rows import crop  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

BEFORE = {"precision": "32"}
N2V_BEFORE = {"n2v_fraction": 0.002, "n2v_window": 5}

METHODS = [
    ("Noise2Stack self 2", {"method": "n2stack", "mode": "self", "neighbors": 2}, False),
    ("Noise2Stack copy 1+2", {"method": "n2stack", "mode": "copy", "neighbors": 2}, True),
    ("Noise2Void", {"method": "n2v"}, False),
    ("Noise2Noise", {"method": "n2n"}, True),
]


def steps_done(folder: Path) -> int:
    rows = list(csv.DictReader((folder / "training_log.csv").open()))
    return int(rows[-1]["step"]) if rows else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300])
    parser.add_argument("--smoke", action="store_true", help="3 s budgets on a small crop")
    parser.add_argument("--name", default="budget", help="stem of the result file")
    args = parser.parse_args()
    ds = DATASETS["tribolium"]
    clean = ds.load()[0]
    if args.smoke:
        clean, args.budgets = crop(clean, 16, 64), [3.0]
    noise = {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 0.02 * float(clean.max())}
    split = int(clean.shape[0] * 0.6)
    train_clean, test_clean = clean[:split], clean[split:]
    train, copy, test = (
        add_noise(c, seed=s, **noise) for c, s in ((train_clean, 0), (train_clean, 1), (test_clean, 2))
    )
    after = resolve_precision("auto")
    table, tta_rows, raw = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, options, needs_copy in METHODS:
            row = [label]
            for budget in args.budgets:
                cell = []
                for when in ("before", "after"):
                    folder = Path(tmp) / f"{label}-{budget}-{when}".replace(" ", "_")
                    old = (
                        {**BEFORE, **(N2V_BEFORE if options.get("method") == "n2v" else {})} if when == "before" else {}
                    )
                    model = api.train(
                        train,
                        folder,
                        targets=[copy] if needs_copy else None,
                        max_time=budget,
                        seed=0,
                        progress=False,
                        **options,
                        **old,
                    )
                    t0 = time.perf_counter()
                    pred = api.predict(model, test, progress=False)
                    seconds = time.perf_counter() - t0
                    psnr = api.evaluate(pred, test_clean)["psnr"]
                    raw[f"{label} {budget:g} s {when}"] = {"psnr": psnr, "steps": steps_done(folder)}
                    cell.append(psnr)
                    print(f"{label}, {budget:g} s, {when}: {psnr:.2f} dB, {steps_done(folder)} steps", flush=True)
                    if budget == args.budgets[-1] and when == "after":
                        t0 = time.perf_counter()
                        tta = api.predict(model, test, progress=False, tta=True)
                        tta_seconds = time.perf_counter() - t0
                        gain = api.evaluate(tta, test_clean)["psnr"] - psnr
                        tta_rows.append(
                            [
                                label,
                                f"{psnr:.2f}",
                                f"{psnr + gain:.2f}",
                                f"{gain:+.2f}",
                                f"{tta_seconds / seconds:.1f}x",
                            ]
                        )
                before, now = cell
                steps = (raw[f"{label} {budget:g} s before"]["steps"], raw[f"{label} {budget:g} s after"]["steps"])
                row.append(f"{before:.2f} → **{now:.2f}** ({now - before:+.2f}; {steps[0]} → {steps[1]} steps)")
            table.append(row)
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; `--precision auto` resolves to `{after}` here.\n\n"
        f"Tribolium, Poisson-Gaussian peak 30; train planes 0-{split - 1}, test {split}-{clean.shape[0] - 1}; every cell "
        "before (float32; Noise2Void 0.2 % masked, 5 x 5 window) → after (today's defaults: `--precision auto`; Noise2Void "
        "5 % masked, 11 x 11 window), PSNR dB against the clean stack, and the optimisation steps the budget allowed. "
        "Copy and Noise2Noise use a second noisy copy of the training planes.\n\n"
        + markdown_table(["method"] + [f"{b:g} s" for b in args.budgets], table)
        + f"\n\n`predict --tta` on the {args.budgets[-1]:g} s models (after):\n\n"
        + markdown_table(["method", "PSNR", "PSNR with --tta", "gain", "prediction time"], tta_rows)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(f"{args.name}_smoke.md" if args.smoke else f"{args.name}.md", "PSNR against the training budget", body)


if __name__ == "__main__":
    main()
