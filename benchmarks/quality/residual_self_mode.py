"""Self mode: residual from the mean of the two innermost neighbours versus no residual.

    python -m benchmarks.quality.residual_self_mode [--epochs 3] [--steps 100] [--datasets arabidopsis cells3d tribolium]

The Table S1 net adds "the middle plane" to its output; in self mode the middle plane is not an
input. This trains both variants with the same number of steps and the same seed (so the same
batches) on stacks with synthetic noise and reports PSNR/SSIM against the clean stack.
Writes ``quality/results/residual_self_mode.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import DATASETS, markdown_table, write_result
from noise2stack import api


def rows_of(key: str, args, tmp: Path) -> list[list]:
    """Both variants on one dataset, trained and scored on its noisy stack."""
    ds = DATASETS[key]
    clean, noisy = ds.load()
    base = api.evaluate(noisy, clean)
    patch = 64 if min(clean.shape[1:]) >= 64 else 32
    rows = []
    for residual in (True, False):
        model = api.train(
            noisy,
            tmp / f"{key}-{residual}",
            progress=False,
            neighbors=args.neighbors,
            residual=residual,
            epochs=args.epochs,
            steps_per_epoch=args.steps,
            seed=0,
            patch=patch,
        )
        result = api.evaluate(api.predict(model, noisy, progress=False), clean)
        variant = "inner-mean residual" if residual else "no residual"
        rows.append([ds.name, variant, base["psnr"], result["psnr"], result["ssim"]])
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--datasets", nargs="+", default=["arabidopsis", "cells3d"], choices=list(DATASETS))
    parser.add_argument("--neighbors", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with --epochs 1 --steps 2)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            rows += rows_of(key, args, Path(tmp))
    body = (
        f"Noise2Stack self, {args.neighbors} neighbours, Table S1 net, {args.epochs} epochs x {args.steps} steps x batch 16 "
        "for each variant, seed 0 (identical batches), "
        "64x64 patches (32 for cells3d), metrics against the clean stack (data range = reference max - min).\n\n"
        + markdown_table(["data", "variant", "input PSNR", "output PSNR", "output SSIM"], rows)
    )
    print(body)
    write_result(
        __package__,
        "residual_self_mode.md",
        "Self mode: residual from the inner neighbours or none",
        body,
        smoke=args.smoke,
        seeds="training 0 (identical batches for both variants); noise 1",
        budget=f"{args.epochs} epochs x {args.steps} steps of batch 16 per variant",
        tuned="each noisy stack itself (self-supervised)",
        scored="the same noisy stack's prediction against its clean stack",
    )


if __name__ == "__main__":
    main()
