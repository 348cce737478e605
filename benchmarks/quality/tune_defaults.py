"""Do the defaults that decide quality at a fixed budget hold? (issue 13, item 4)

    python -m benchmarks.quality.tune_defaults [--budget 120] [--methods self n2v] [--name tune_defaults] [--smoke]

Tribolium, Poisson-Gaussian peak 30, sigma 2 % of the maximum, as ``quality.budget``, but tuned
apart from the tables (issue 25): only planes 0-59, the planes every table trains on, are read;
planes 0-39 train and 40-59 score (fresh noise); the tables' test planes 60-99 are never seen here.
PSNR (dB) against the clean scored planes, no normalisation. (Results before 2026-12-03 trained on
0-59 and scored on 60-99; their stamps say so.) Every variant trains for ``--budget`` seconds (``max_time``) from the same seed,
one at a time, and changes one default:

* learning rate 4e-4 and 2e-3 (default 1e-3);
* patch 96 at batch 7 and 128 at batch 4 (about the same pixels per step as 64 x 16), and batch 32;
* validation: 8 patches instead of 32 (its cost per epoch);
* warm-up of 100 steps (default none);
* Noise2Stack self only: no residual (default: the mean of the two innermost neighbours);
* Noise2Void only: the earlier mask (0.2 % masked, 5 x 5 window) and each half of it (default 5 %, 11 x 11).

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
    write_result,
)
from noise2stack import api

METHODS = {
    "self": ("Noise2Stack self 2", {"method": "n2stack", "mode": "self", "neighbors": 2}),
    "n2v": ("Noise2Void", {"method": "n2v"}),
}
VARIANTS = [
    ("defaults", {}),
    ("lr 4e-4", {"lr": 4e-4}),
    ("lr 2e-3", {"lr": 2e-3}),
    ("patch 96, batch 7", {"patch": 96, "batch": 7}),
    ("patch 128, batch 4", {"patch": 128, "batch": 4}),
    ("batch 32", {"batch": 32}),
    ("8 validation patches", {"val_patches": 8}),
    ("warm-up 100 steps", {"warmup_steps": 100}),
    ("no residual", {"residual": False}),
    ("0.2 % masked, 5 x 5 window", {"n2v_fraction": 0.002, "n2v_window": 5}),  # Noise2Void's earlier mask
    ("0.2 % masked", {"n2v_fraction": 0.002}),
    ("5 x 5 window", {"n2v_window": 5}),
]


def rows_of(key: str, variants: list, split: Split, args, tmp: Path, raw: dict) -> tuple[list[list], str]:
    """(one row per variant of one method, the precision "auto" resolved to)."""
    label, options = METHODS[key]
    rows, base, resolved = [], None, "not measured"
    for name, change in variants:
        if "residual" in change and options["method"] != "n2stack":
            continue
        if any(k.startswith("n2v_") for k in change) and options["method"] != "n2v":
            continue
        if args.smoke and "patch" in change:
            change = {**change, "patch": 32}
        folder = tmp / f"{key}-{len(raw)}"
        model = api.train(
            split.train, folder, max_time=args.budget, seed=args.seed, progress=False, **options, **change
        )
        resolved = model.config.training.precision  # the model folder records what "auto" became
        psnr = api.evaluate(api.predict(model, split.test, progress=False), split.test_clean)["psnr"]
        steps = steps_done(folder)
        base = psnr if base is None else base
        raw[f"{label}: {name}"] = {"psnr": psnr, "steps": steps}
        rows.append([label, name, f"{psnr:.2f}", f"{psnr - base:+.2f}", steps])
        print(f"{label}, {name}: {psnr:.2f} dB ({psnr - base:+.2f}), {steps} steps", flush=True)
    return rows, resolved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per row")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--variants", nargs="+", default=None, help="labels of VARIANTS (default all)")
    parser.add_argument("--seed", type=int, default=0, help="training seed of every row (one file per seed)")
    parser.add_argument("--smoke", action="store_true", help="3 s budgets on a small crop")
    parser.add_argument("--name", default="tune_defaults", help="stem of the result file")
    args = parser.parse_args(argv)
    ds = DATASETS["tribolium"]
    clean = ds.clean()
    if args.smoke:
        clean, args.budget = crop(clean, 16, 64), 3.0
    # the tables train on the first 60 % and score the rest: tune inside their training planes only
    clean = clean[: int(clean.shape[0] * 0.6)]
    split = noisy_split(clean, resolve_noise(ds.noise, clean), train_fraction=2 / 3)
    variants = [v for v in VARIANTS if args.variants is None or v[0] in args.variants]
    table, raw, resolved = [], {}, "not measured"
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.methods:
            rows, resolved = rows_of(key, variants, split, args, Path(tmp), raw)
            table += rows
    first, last = split.first_test_plane, clean.shape[0] - 1
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; `--precision auto` resolves to `{resolved}` here.\n\n"
        f"Tribolium, Poisson-Gaussian peak 30; train planes 0-{first - 1}, scored {first}-{last} (fresh noise); the "
        "tables' test planes (the last 40 %) are not read; "
        f"{args.budget:g} s of training per row (`--max-time`), seed {args.seed}, one run each, one at a time; PSNR dB against "
        "the clean test planes. Each row changes one default; the difference is to the defaults row of the same method.\n\n"
        + markdown_table(["method", "variant", "PSNR (dB)", "vs defaults", "steps"], table)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "Defaults at a fixed budget",
        body,
        smoke=args.smoke,
        seeds=f"training {args.seed}; noise: train 0, test 2",
        budget=f"{args.budget:g} s wall clock per row (`max_time`)",
        tuned=f"Tribolium planes 0-{first - 1} with noise",
        scored=f"Tribolium planes {first}-{last}, fresh noise, against the clean planes (the tables' training "
        "planes: their test planes are never read here)",
    )


if __name__ == "__main__":
    main()
