"""What fine-tuning buys (issue 10, paper 003 §2.2.5): a model trained on stack A, fine-tuned for a short
budget on stack B, against a model trained from scratch on B with the same short budget.

    python benchmarks/finetune.py [--method nrrn] [--pretrain 300] [--short 30] [--smoke]

A = ISBI EM train volume, B = ISBI EM test volume (same noise, Poisson peak 8), both as in
benchmarks/common.py. Rows: A's model applied to B as is; A fine-tuned on B (``train --init``, A's
normalisation kept) for ``--short`` seconds; B from scratch for ``--short`` seconds. PSNR against the
clean B. Writes benchmarks/results/finetune_<method>.md; ``--smoke`` (< 30 s) checks the script.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import SHARED, markdown_table, write_result
from noise2stack import api
from noise2stack.io.stacks import read_stack
from noise2stack.noise import add_noise
from paper_rows import crop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", default="nrrn")
    parser.add_argument("--pretrain", type=float, default=300.0, help="seconds of training on stack A")
    parser.add_argument("--short", type=float, default=30.0, help="seconds of fine-tuning / from-scratch training on B")
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    args = parser.parse_args()
    clean_a = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype("float32")
    clean_b = read_stack(SHARED / "em_isbi2012_sstem/test_volume_zyx.tif").astype("float32")
    patch = 64
    long_run, short_run = {"max_time": args.pretrain}, {"max_time": args.short}
    if args.smoke:
        clean_a, clean_b, patch = crop(clean_a, 4, 48), crop(clean_b, 4, 48), 16
        long_run = short_run = {"epochs": 1, "steps_per_epoch": 2, "batch": 2}
    noise = {"noise": "poisson", "peak": 8.0}
    noisy_a, noisy_b = add_noise(clean_a, seed=0, **noise), add_noise(clean_b, seed=1, **noise)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        api.train(noisy_a, tmp / "a", method=args.method, patch=patch, progress=False, **long_run)
        api.train(noisy_b, tmp / "tuned", init=tmp / "a", patch=patch, progress=False, **short_run)
        api.train(noisy_b, tmp / "scratch", method=args.method, patch=patch, progress=False, **short_run)
        for label, folder in (("A's model on B", "a"), (f"A fine-tuned on B ({args.short:g} s)", "tuned"),
                              (f"B from scratch ({args.short:g} s)", "scratch")):
            metrics = api.evaluate(api.predict(tmp / folder, noisy_b, progress=False), clean_b, normalize="none")
            results[label] = (metrics["psnr"], metrics["ssim"])
            print(f"{label}: {metrics['psnr']:.2f} dB", flush=True)
    input_psnr = api.evaluate(noisy_b, clean_b, normalize="none")["psnr"]
    body = (f"Method {args.method}; A = ISBI train volume {clean_a.shape}, B = ISBI test volume {clean_b.shape}, {noise}; "
            f"pre-training {args.pretrain:g} s{' (smoke: 2 steps each)' if args.smoke else ''}. Input PSNR {input_psnr:.2f} dB.\n\n"
            + markdown_table(["model", "PSNR (dB)", "SSIM"], [[k, *v] for k, v in results.items()]))
    write_result(f"finetune_{args.method}{'_smoke' if args.smoke else ''}.md", "Fine-tuning against training from scratch", body)


if __name__ == "__main__":
    main()
