"""The paper's comparison table (000, Table 1 / Figure 5B) on our data: ``api.compare`` per dataset.

    python -m benchmarks.papers.compare_methods [--budget 300] [--datasets cells3d isbi-em tribolium]
        [--methods LABEL ...] [--suffix _n2v_rerun] [--precision 32]

Writes ``papers/results/compare_<dataset><suffix>/`` (comparison.md, stamped; results.json, panel.png,
psnr_per_plane.png, comparison.html). Noise as in the harness' DATASETS.
"""

from __future__ import annotations

import argparse

from benchmarks.harness import DATASETS, resolve_noise, result_path, stamp_file
from noise2stack import api


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per method")
    parser.add_argument("--datasets", nargs="+", default=["cells3d", "isbi-em", "tribolium"], choices=list(DATASETS))
    parser.add_argument("--methods", nargs="*", default=None, help="row labels (default: all)")
    parser.add_argument("--suffix", default="", help="appended to the output folder's name (partial reruns)")
    parser.add_argument(
        "--precision", default=None, help="training precision for every row (32 keeps a rerun comparable with float32)"
    )
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with a short --budget)")
    args = parser.parse_args(argv)
    train_options = {"precision": args.precision} if args.precision else None
    for key in args.datasets:
        ds = DATASETS[key]
        clean = ds.clean()
        out = result_path(__package__, f"compare_{key}{args.suffix}", args.smoke)
        api.compare(
            clean,
            out,
            resolve_noise(ds.noise, clean),
            budget=args.budget,
            methods=args.methods,
            title=f"Method comparison: {ds.name}",
            overwrite=True,
            train_options=train_options,
        )
        stamp_file(
            out / "comparison.md",
            seeds="api.compare's: noise 0 (copy A, scored) and 1 (copy B); training 0",
            budget=f"{args.budget:g} s wall clock per trainable method",
            tuned=f"{ds.name} with noise (copy A; copy rows also copy B; Noise2Clean: the clean stack)",
            scored=f"copy A's prediction against the clean {ds.name} (the same planes the rows trained on)",
        )
        print((out / "comparison.md").read_text())


if __name__ == "__main__":
    main()
