"""What fine-tuning buys (issue 10, paper 003 §2.2.5): a model trained on stack A, fine-tuned for a short
budget on stack B, against a model trained from scratch on B with the same short budget.

    python -m benchmarks.quality.finetune [--method n2v] [--pretrain 1250] [--short 125] [--score-side 512] [--smoke]

A = ISBI EM train volume, B = ISBI EM test volume (same noise, Poisson peak 8). Rows: A's model applied
to B as is; A fine-tuned on B (``api.train(init=...)``, A's normalisation kept) for ``--short`` steps;
B from scratch for ``--short`` steps. PSNR against the clean B. Writes
``quality/results/finetune_<method>.md``; ``--smoke`` (< 30 s) checks the script.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import (
    EM_TEST,
    EM_TRAIN,
    crop,
    load_stack,
    markdown_table,
    simulate,
    step_schedule,
    write_result,
)
from noise2stack import api

NOISE = {"noise": "poisson", "peak": 8.0}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="n2v")
    parser.add_argument("--pretrain", type=int, default=1250, help="optimisation steps of training on stack A")
    parser.add_argument("--short", type=int, default=125, help="steps of fine-tuning / from-scratch training on B")
    parser.add_argument("--batch", type=int, default=None, help="batch size of every run (default: the method's)")
    parser.add_argument("--score-side", type=int, default=512, help="score B on its central square of this side")
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    clean_a = load_stack(EM_TRAIN).astype("float32")
    clean_b = load_stack(EM_TEST).astype("float32")
    clean_b = crop(clean_b, clean_b.shape[0], min(args.score_side, clean_b.shape[1]))
    patch = 64
    size = {"batch": args.batch} if args.batch else {}
    long_run, short_run = {**step_schedule(args.pretrain), **size}, {**step_schedule(args.short), **size}
    if args.smoke:
        clean_a, clean_b, patch = crop(clean_a, 4, 48), crop(clean_b, 4, 48), 16
        long_run = short_run = {"epochs": 1, "steps_per_epoch": 2, "batch": 2}
    noisy_a, noisy_b = simulate(clean_a, NOISE, 0), simulate(clean_b, NOISE, 1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        api.train(noisy_a, tmp / "a", method=args.method, patch=patch, progress=False, **long_run)
        api.train(noisy_b, tmp / "tuned", init=tmp / "a", patch=patch, progress=False, **short_run)
        api.train(noisy_b, tmp / "scratch", method=args.method, patch=patch, progress=False, **short_run)
        for label, folder in (
            ("A's model on B", "a"),
            (f"A fine-tuned on B ({args.short} steps)", "tuned"),
            (f"B from scratch ({args.short} steps)", "scratch"),
        ):
            metrics = api.evaluate(api.predict(tmp / folder, noisy_b, progress=False), clean_b, normalize="none")
            results[label] = (metrics["psnr"], metrics["ssim"])
            print(f"{label}: {metrics['psnr']:.2f} dB", flush=True)
    input_psnr = api.evaluate(noisy_b, clean_b, normalize="none")["psnr"]
    body = (
        f"Method {args.method}; A = ISBI train volume {clean_a.shape}, B = ISBI test volume {clean_b.shape}, {NOISE}; "
        f"pre-training {args.pretrain} steps{' (smoke: 2 steps each)' if args.smoke else ''}. "
        f"Input PSNR {input_psnr:.2f} dB.\n\n"
        + markdown_table(["model", "PSNR (dB)", "SSIM"], [[k, *v] for k, v in results.items()])
        + f"\n\nB fine-tuned and trained from scratch on its central {clean_b.shape} (the scored part)."
    )
    write_result(
        __package__,
        f"finetune_{args.method}.md",
        "Fine-tuning against training from scratch",
        body,
        smoke=args.smoke,
        seeds="training: the package's default; noise: A 0, B 1",
        budget=f"A {args.pretrain} steps; fine-tuning and from scratch {args.short} steps each",
        tuned=f"A = ISBI EM train volume with noise; then B {clean_b.shape} with noise (self-supervised)",
        scored=f"B = ISBI EM test volume {clean_b.shape} with noise, against the clean B",
    )


if __name__ == "__main__":
    main()
