"""Do the defaults that decide quality at a fixed budget hold? (issue 13, item 4)

    python benchmarks/tune_defaults.py [--budget 120] [--methods self n2v] [--smoke]

Same data as ``benchmarks/budget.py``: Tribolium, Poisson-Gaussian peak 30, sigma 2 % of the maximum;
planes 0-59 train, 60-99 test with fresh noise; PSNR (dB) against the clean test planes, no
normalisation. Every variant trains for ``--budget`` seconds (``--max-time``) from the same seed,
one at a time, and changes one default:

* learning rate 4e-4 and 2e-3 (default 1e-3);
* patch 96 at batch 7 and 128 at batch 4 (about the same pixels per step as 64 x 16), and batch 32;
* validation: 8 patches instead of 32 (its cost per epoch);
* warm-up of 100 steps (default none);
* Noise2Stack self only: no residual (default: the mean of the two innermost neighbours).

Writes benchmarks/results/<--name>.md (default tune_defaults.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from budget import steps_done  # noqa: E402
from common import DATASETS, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.noise import add_noise  # noqa: E402
from noise2stack.resources import resolve_precision  # noqa: E402
from paper_rows import crop  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

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
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--variants", nargs="+", default=None, help="labels of VARIANTS (default all)")
    parser.add_argument("--smoke", action="store_true", help="3 s budgets on a small crop")
    parser.add_argument("--name", default="tune_defaults", help="stem of the result file")
    args = parser.parse_args()
    clean = DATASETS["tribolium"].load()[0]
    if args.smoke:
        clean, args.budget = crop(clean, 16, 64), 3.0
    noise = {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 0.02 * float(clean.max())}
    split = int(clean.shape[0] * 0.6)
    train_clean, test_clean = clean[:split], clean[split:]
    train, test = add_noise(train_clean, seed=0, **noise), add_noise(test_clean, seed=2, **noise)
    variants = [v for v in VARIANTS if args.variants is None or v[0] in args.variants]
    table, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.methods:
            label, options = METHODS[key]
            base = None
            for name, change in variants:
                if "residual" in change and options["method"] != "n2stack":
                    continue
                if args.smoke and "patch" in change:
                    change = {**change, "patch": 32}
                folder = Path(tmp) / f"{key}-{len(raw)}"
                model = api.train(train, folder, max_time=args.budget, seed=0, progress=False, **options, **change)
                psnr = api.evaluate(api.predict(model, test, progress=False), test_clean)["psnr"]
                steps = steps_done(folder)
                base = psnr if base is None else base
                raw[f"{label}: {name}"] = {"psnr": psnr, "steps": steps}
                table.append([label, name, f"{psnr:.2f}", f"{psnr - base:+.2f}", steps])
                print(f"{label}, {name}: {psnr:.2f} dB ({psnr - base:+.2f}), {steps} steps", flush=True)
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; `--precision auto` resolves to `{resolve_precision('auto')}` here.\n\n"
        f"Tribolium, Poisson-Gaussian peak 30; train planes 0-{split - 1}, test {split}-{clean.shape[0] - 1} (fresh noise); "
        f"{args.budget:g} s of training per row (`--max-time`), seed 0, one run each, one at a time; PSNR dB against "
        "the clean test planes. Each row changes one default; the difference is to the defaults row of the same method.\n\n"
        + markdown_table(["method", "variant", "PSNR (dB)", "vs defaults", "steps"], table)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(f"{args.name}_smoke.md" if args.smoke else f"{args.name}.md", "Defaults at a fixed budget", body)


if __name__ == "__main__":
    main()
