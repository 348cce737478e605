"""bf16 mixed precision on the CPU: speed and PSNR against float32 (issue 13, item 3).

    python benchmarks/precision.py [--steps 400] [--smoke]

For each row the same training (same seed, same batches, ``--steps`` optimisation steps) runs in
float32 and with bf16 autocast; each model then predicts the test stack in float32 and in bf16.
The table gives training seconds per step, prediction seconds, and PSNR (dB, against the clean
stack, no normalisation) of every combination. Rows: Noise2Stack self (2 neighbours) and
Noise2Void on Tribolium (Poisson-Gaussian, peak 30), Noise2Stack copy on the ISBI EM volume
(Poisson, peak 8). Writes benchmarks/results/precision.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.noise import add_noise  # noqa: E402
from noise2stack.resources import native_bf16  # noqa: E402
from paper_rows import crop, step_schedule  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

ROWS = [
    ("Noise2Stack self 2", "tribolium", {"method": "n2stack", "mode": "self", "neighbors": 2}),
    ("Noise2Void", "tribolium", {"method": "n2v"}),
    ("Noise2Stack copy 2", "isbi-em", {"method": "n2stack", "mode": "copy", "neighbors": 2}),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--smoke", action="store_true", help="8 steps on small crops")
    args = parser.parse_args()
    if args.smoke:
        args.steps = 8
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, options in ROWS:
            ds = DATASETS[name]
            clean = ds.load()[0]
            if args.smoke:
                clean = crop(clean, 12, 64)
            noise = {k: v for k, v in ds.noise.items() if k != "sigma_frac"}
            if "sigma_frac" in ds.noise:
                noise["sigma"] = ds.noise["sigma_frac"] * float(clean.max())
            half = clean.shape[0] // 2
            train_clean, test_clean = clean[:half], clean[half:]
            noisy = add_noise(train_clean, seed=0, **noise)
            copy = add_noise(train_clean, seed=1, **noise)
            test = add_noise(test_clean, seed=2, **noise)
            targets = [copy] if options.get("mode") == "copy" else None
            result = {}
            for train_precision in ("32", "bf16"):
                folder = Path(tmp) / f"{label}_{train_precision}".replace(" ", "_")
                t0 = time.perf_counter()
                model = api.train(
                    noisy,
                    folder,
                    targets=targets,
                    progress=False,
                    precision=train_precision,
                    seed=0,
                    **options,
                    **step_schedule(args.steps),
                )
                per_step = (time.perf_counter() - t0) / args.steps
                for predict_precision in ("32", "bf16"):
                    t0 = time.perf_counter()
                    pred = api.predict(model, test, progress=False, precision=predict_precision)
                    seconds = time.perf_counter() - t0
                    psnr = api.evaluate(pred, test_clean, normalize="none")["psnr"]
                    result[(train_precision, predict_precision)] = (psnr, seconds)
                result[train_precision] = per_step
                print(
                    f"{label}: train {train_precision} {per_step:.3f} s/step; "
                    + ", ".join(f"predict {p}: {result[(train_precision, p)][0]:.3f} dB" for p in ("32", "bf16")),
                    flush=True,
                )
            raw[label] = {str(k): v for k, v in result.items()}
            base = result[("32", "32")][0]
            rows.append(
                [
                    f"{label} ({name})",
                    f"{result['32']:.3f}",
                    f"{result['bf16']:.3f}",
                    f"{result['32'] / result['bf16']:.2f}x",
                    f"{base:.2f}",
                    f"{result[('bf16', '32')][0] - base:+.2f}",
                    f"{result[('32', 'bf16')][0] - base:+.3f}",
                    f"{result[('bf16', 'bf16')][0] - base:+.2f}",
                    f"{result[('32', '32')][1] / result[('32', 'bf16')][1]:.2f}x",
                ]
            )
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; native bf16: {native_bf16()}; {torch.get_num_threads()} torch threads.\n\n"
        f"{args.steps} optimisation steps per training (batch 16, 64 x 64, same seed and batches); test = the second "
        "half of each stack with its own noise; PSNR against the clean stack.\n\n"
        + markdown_table(
            [
                "row",
                "s/step fp32",
                "s/step bf16",
                "training speed-up",
                "PSNR fp32/fp32",
                "train bf16, predict fp32",
                "train fp32, predict bf16",
                "bf16 / bf16",
                "prediction speed-up",
            ],
            rows,
        )
        + f"\n\nRaw: `{raw}`"
    )
    write_result("precision_smoke.md" if args.smoke else "precision.md", "bf16 against float32", body)


if __name__ == "__main__":
    main()
