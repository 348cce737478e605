"""PSNR against the training budget, before and after the precision and Noise2Void defaults (issue 13,
item 4), and what ``predict --tta`` buys.

    python -m benchmarks.quality.budget [--budgets 60 120 300] [--name budget] [--smoke]

On the Tribolium stack (Poisson-Gaussian, peak 30, sigma 2 % of the maximum; planes 0-59 train,
60-99 test with fresh noise), for Noise2Stack self (2 neighbours), Noise2Stack copy (1 + 2),
Noise2Void and Noise2Noise, every budget (``max_time`` seconds, everything else at its default)
runs twice, side by side: *before* = the defaults of 2026-11-30 (``precision="32"``, float32; and for
Noise2Void 0.2 % of the pixels masked with a 5 x 5 replacement window) and *after* = today's defaults
(``precision="auto"``: bf16 autocast where the CPU has AVX512-BF16 or AMX; Noise2Void 5 % masked,
11 x 11 window). Each model of the largest budget is then also predicted with ``tta=True``: its gain
and its cost. PSNR (dB) against the clean stack, no normalisation.
Writes ``quality/results/<--name>.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import (
    DATASETS,
    Split,
    cpu_model,
    crop,
    flags_text,
    markdown_table,
    noisy_split,
    resolve_noise,
    steps_done,
    timed,
    write_result,
)
from noise2stack import api

BEFORE = {"precision": "32"}
N2V_BEFORE = {"n2v_fraction": 0.002, "n2v_window": 5}
METHODS = [  # (label, training options, needs the second noisy copy)
    ("Noise2Stack self 2", {"method": "n2stack", "mode": "self", "neighbors": 2}, False),
    ("Noise2Stack copy 1+2", {"method": "n2stack", "mode": "copy", "neighbors": 2}, True),
    ("Noise2Void", {"method": "n2v"}, False),
    ("Noise2Noise", {"method": "n2n"}, True),
]


def run(split: Split, options: dict, needs_copy: bool, budget: float, when: str, folder: Path) -> dict:
    """Train one model with the defaults of ``when`` ("before" or "after") and score it on the test planes."""
    old = {**BEFORE, **(N2V_BEFORE if options.get("method") == "n2v" else {})} if when == "before" else {}
    model = api.train(
        split.train,
        folder,
        targets=[split.copy] if needs_copy else None,
        max_time=budget,
        seed=0,
        progress=False,
        **options,
        **old,
    )
    pred, seconds = timed(api.predict, model, split.test, progress=False)
    psnr = api.evaluate(pred, split.test_clean)["psnr"]
    return {"model": model, "psnr": psnr, "steps": steps_done(folder), "predict_seconds": seconds}


def tta_row(label: str, split: Split, after: dict) -> list[str]:
    """What ``predict(tta=True)`` adds to a model's PSNR, and what it costs in time."""
    tta, seconds = timed(api.predict, after["model"], split.test, progress=False, tta=True)
    gain = api.evaluate(tta, split.test_clean)["psnr"] - after["psnr"]
    ratio = seconds / after["predict_seconds"]
    return [label, f"{after['psnr']:.2f}", f"{after['psnr'] + gain:.2f}", f"{gain:+.2f}", f"{ratio:.1f}x"]


def measure(split: Split, budgets: list[float], tmp: Path) -> tuple[list, list, dict, str]:
    """(table rows, --tta rows, raw figures, the precision "auto" resolved to)."""
    table, tta_rows, raw, resolved = [], [], {}, "not measured"
    for label, options, needs_copy in METHODS:
        row = [label]
        for budget in budgets:
            cell = {}
            for when in ("before", "after"):
                folder = tmp / f"{label}-{budget}-{when}".replace(" ", "_")
                cell[when] = run(split, options, needs_copy, budget, when, folder)
                raw[f"{label} {budget:g} s {when}"] = {"psnr": cell[when]["psnr"], "steps": cell[when]["steps"]}
                print(
                    f"{label}, {budget:g} s, {when}: {cell[when]['psnr']:.2f} dB, {cell[when]['steps']} steps",
                    flush=True,
                )
            before, after = cell["before"], cell["after"]
            resolved = after["model"].config.precision  # the model folder records what "auto" became
            row.append(
                f"{before['psnr']:.2f} → **{after['psnr']:.2f}** ({after['psnr'] - before['psnr']:+.2f}; "
                f"{before['steps']} → {after['steps']} steps)"
            )
            if budget == budgets[-1]:
                tta_rows.append(tta_row(label, split, after))
        table.append(row)
    return table, tta_rows, raw, resolved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300], help="seconds per model")
    parser.add_argument("--smoke", action="store_true", help="3 s budgets on a small crop")
    parser.add_argument("--name", default="budget", help="stem of the result file")
    args = parser.parse_args(argv)
    ds = DATASETS["tribolium"]
    clean = ds.clean()
    if args.smoke:
        clean, args.budgets = crop(clean, 16, 64), [3.0]
    split = noisy_split(clean, resolve_noise(ds.noise, clean))
    with tempfile.TemporaryDirectory() as tmp:
        table, tta_rows, raw, resolved = measure(split, args.budgets, Path(tmp))
    first = split.first_test_plane
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; `--precision auto` resolves to `{resolved}` here.\n\n"
        f"Tribolium, Poisson-Gaussian peak 30; train planes 0-{first - 1}, test {first}-{clean.shape[0] - 1}; every "
        "cell before (float32; Noise2Void 0.2 % masked, 5 x 5 window) → after (today's defaults: `--precision auto`; "
        "Noise2Void 5 % masked, 11 x 11 window), PSNR dB against the clean stack, and the optimisation steps the "
        "budget allowed. Copy and Noise2Noise use a second noisy copy of the training planes.\n\n"
        + markdown_table(["method"] + [f"{b:g} s" for b in args.budgets], table)
        + f"\n\n`predict --tta` on the {args.budgets[-1]:g} s models (after):\n\n"
        + markdown_table(["method", "PSNR", "PSNR with --tta", "gain", "prediction time"], tta_rows)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "PSNR against the training budget",
        body,
        smoke=args.smoke,
        seeds="training 0; noise: train 0, copy 1, test 2",
        budget=", ".join(f"{b:g} s" for b in args.budgets) + " wall clock per model (`max_time`)",
        tuned=f"Tribolium planes 0-{first - 1} with noise (copy rows: and a second noisy copy)",
        scored=f"Tribolium planes {first}-{clean.shape[0] - 1}, fresh noise, against the clean planes",
    )


if __name__ == "__main__":
    main()
