"""Self mode: residual from the mean of the two innermost neighbours versus no residual.

The Table S1 net adds "the middle plane" to its output; in self mode the middle plane is not an
input. This trains both variants with the same number of steps and the same seed (so the same
batches) on stacks with synthetic noise and reports PSNR/SSIM against the clean stack
(benchmarks/results/residual_self_mode.md).

    python benchmarks/residual_self_mode.py [--epochs 3] [--steps 100] [--datasets arabidopsis cells3d]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import DATASETS, markdown_table, write_result
from noise2stack import api


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--datasets", nargs="+", default=["arabidopsis", "cells3d"])
    parser.add_argument("--neighbors", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets:
            ds = DATASETS[key]
            clean, noisy = ds.load()
            base = api.evaluate(noisy, clean)
            patch = 64 if min(clean.shape[1:]) >= 64 else 32
            for residual in (True, False):
                folder = Path(tmp) / f"{key}-{residual}"
                model = api.train(
                    noisy,
                    folder,
                    progress=False,
                    neighbors=args.neighbors,
                    residual=residual,
                    epochs=args.epochs,
                    steps_per_epoch=args.steps,
                    seed=0,
                    patch=patch,
                )
                result = api.evaluate(api.predict(model, noisy, progress=False), clean)
                rows.append(
                    [
                        ds.name,
                        "inner-mean residual" if residual else "no residual",
                        base["psnr"],
                        result["psnr"],
                        result["ssim"],
                    ]
                )
                print(rows[-1], flush=True)
    body = (
        f"Noise2Stack self, {args.neighbors} neighbours, Table S1 net, {args.epochs} epochs x {args.steps} steps x batch 16 "
        "for each variant, seed 0 (identical batches), "
        "64x64 patches (32 for cells3d), metrics against the clean stack (data range = reference max - min).\n\n"
        + markdown_table(["data", "variant", "input PSNR", "output PSNR", "output SSIM"], rows)
    )
    print(body)
    write_result("residual_self_mode.md", "Self mode: residual from the inner neighbours or none", body)


if __name__ == "__main__":
    main()
