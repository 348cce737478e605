"""bf16 mixed precision on the CPU: speed and PSNR against float32 (issue 13, item 3).

    python -m benchmarks.speed.precision [--steps 400] [--smoke]

For each row the same training (same seed, same batches, ``--steps`` optimisation steps) runs in
float32 and with bf16 autocast; each model then predicts the test stack in float32 and in bf16.
The table gives training seconds per step, prediction seconds, and PSNR (dB, against the clean
stack, no normalisation) of every combination. Rows: Noise2Stack self (2 neighbours) and
Noise2Void on Tribolium (Poisson-Gaussian, peak 30), Noise2Stack copy on the ISBI EM volume
(Poisson, peak 8). Writes ``speed/results/precision.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.harness import (
    DATASETS,
    cpu_model,
    crop,
    flags_text,
    has_bf16,
    markdown_table,
    noisy_split,
    resolve_noise,
    step_schedule,
    timed,
    write_result,
)
from noise2stack import api

ROWS = [
    ("Noise2Stack self 2", "tribolium", {"method": "n2stack", "mode": "self", "neighbors": 2}),
    ("Noise2Void", "tribolium", {"method": "n2v"}),
    ("Noise2Stack copy 2", "isbi-em", {"method": "n2stack", "mode": "copy", "neighbors": 2}),
]
HEADER = [
    "row",
    "s/step fp32",
    "s/step bf16",
    "training speed-up",
    "PSNR fp32/fp32",
    "train bf16, predict fp32",
    "train fp32, predict bf16",
    "bf16 / bf16",
    "prediction speed-up",
]


def measure(label: str, name: str, options: dict, steps: int, smoke: bool, tmp: Path) -> dict:
    """{train precision: seconds per step, (train, predict precision): (PSNR, prediction seconds)}."""
    ds = DATASETS[name]
    clean = ds.clean()
    if smoke:
        clean = crop(clean, 12, 64)
    split = noisy_split(clean, resolve_noise(ds.noise, clean), train_fraction=0.5)
    targets = [split.copy] if options.get("mode") == "copy" else None
    result = {}
    for train_precision in ("32", "bf16"):
        folder = tmp / f"{label}_{train_precision}".replace(" ", "_")
        model, seconds = timed(
            api.train,
            split.train,
            folder,
            targets=targets,
            progress=False,
            precision=train_precision,
            seed=0,
            **options,
            **step_schedule(steps),
        )
        result[train_precision] = seconds / steps
        for predict_precision in ("32", "bf16"):
            pred, seconds = timed(api.predict, model, split.test, progress=False, precision=predict_precision)
            psnr = api.evaluate(pred, split.test_clean, normalize="none")["psnr"]
            result[(train_precision, predict_precision)] = (psnr, seconds)
        print(
            f"{label}: train {train_precision} {result[train_precision]:.3f} s/step; "
            + ", ".join(f"predict {p}: {result[(train_precision, p)][0]:.3f} dB" for p in ("32", "bf16")),
            flush=True,
        )
    return result


def row(label: str, name: str, r: dict) -> list[str]:
    base = r[("32", "32")][0]
    return [
        f"{label} ({name})",
        f"{r['32']:.3f}",
        f"{r['bf16']:.3f}",
        f"{r['32'] / r['bf16']:.2f}x",
        f"{base:.2f}",
        f"{r[('bf16', '32')][0] - base:+.2f}",
        f"{r[('32', 'bf16')][0] - base:+.3f}",
        f"{r[('bf16', 'bf16')][0] - base:+.2f}",
        f"{r[('32', '32')][1] / r[('32', 'bf16')][1]:.2f}x",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--smoke", action="store_true", help="8 steps on small crops")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps = 8
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, options in ROWS:
            result = measure(label, name, options, args.steps, args.smoke, Path(tmp))
            raw[label] = {str(k): v for k, v in result.items()}
            rows.append(row(label, name, result))
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; native bf16: {has_bf16()}; {torch.get_num_threads()} torch "
        f"threads.\n\n{args.steps} optimisation steps per training (batch 16, 64 x 64, same seed and batches); test = "
        "the second half of each stack with its own noise; PSNR against the clean stack.\n\n"
        + markdown_table(HEADER, rows)
        + f"\n\nRaw: `{raw}`"
    )
    write_result(
        __package__,
        "precision.md",
        "bf16 against float32",
        body,
        smoke=args.smoke,
        seeds="training 0 (same batches in both precisions); noise: train 0, copy 1, test 2",
        budget=f"{args.steps} optimisation steps of batch 16 per model",
        tuned="the first half of the planes of Tribolium and ISBI EM, with noise",
        scored="the second half of the planes, fresh noise, against the clean planes",
    )


if __name__ == "__main__":
    main()
