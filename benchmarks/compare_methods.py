"""The paper's comparison table (000, Table 1 / Figure 5B) on our data: `noise2stack compare` per dataset.

    python benchmarks/compare_methods.py [--budget 300] [--datasets cells3d isbi-em tribolium] [--methods ...] [--precision 32]

Writes benchmarks/results/compare_<dataset>/ (comparison.md, results.json, panel.png,
psnr_per_plane.png). Noise as in benchmarks/common.py.
"""

from __future__ import annotations

import argparse

from common import DATASETS, RESULTS
from noise2stack import api


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--datasets", nargs="+", default=["cells3d", "isbi-em", "tribolium"])
    parser.add_argument("--methods", nargs="*", default=None, help="row labels (default: all)")
    parser.add_argument("--suffix", default="", help="appended to the output folder's name (partial reruns)")
    parser.add_argument(
        "--precision",
        default=None,
        help="training precision for every row (32 keeps a rerun comparable with float32 tables)",
    )
    args = parser.parse_args()
    train_options = {"precision": args.precision} if args.precision else None
    for key in args.datasets:
        ds = DATASETS[key]
        clean, _ = ds.load()
        noise = dict(ds.noise)
        if "sigma_frac" in noise:
            noise["sigma"] = noise.pop("sigma_frac") * float(clean.max())
        out = RESULTS / f"compare_{key}{args.suffix}"
        api.compare(
            clean,
            out,
            noise,
            budget=args.budget,
            methods=args.methods,
            title=f"Method comparison: {ds.name}",
            overwrite=True,
            train_options=train_options,
        )
        print((out / "comparison.md").read_text())


if __name__ == "__main__":
    main()
