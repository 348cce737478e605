"""Paper 003 Tables 4A/4B on ISBI 2012 EM: train on the train volume, score on the test volume.

    python benchmarks/em_nrrn_tables.py [--budget 300] [--smoke]

Poisson noise with peak 1, 2, 4, 8, 30 and Gaussian noise with sigma 10, 15, 25, 35, 75 (0-255
units; the volumes are uint8). Rows: Input; Gaussian filter, median and NLM on the 3-plane average
(each plane averaged with one neighbour per side, as the paper's "-avg" rows); Noise2Void;
Noise2Stack self 2; NRRN; Noise2Clean U-Net. Every trained row gets the same ``--budget`` seconds.
Writes benchmarks/results/em_nrrn_tables.md. ``--smoke`` runs one level of each noise on a small
crop with two training steps per row (< 30 s): it checks the script, its numbers mean nothing.
"""

from __future__ import annotations

import argparse

from common import SHARED, markdown_table, write_result
from noise2stack.io.stacks import read_stack
from paper_rows import Row, crop, run_rows

ROWS = [
    Row("Input", "input"),
    Row("Gauss-avg", "gaussian", {"average_neighbors": 1}, filter=True),
    Row("Median-avg", "median", {"average_neighbors": 1}, filter=True),
    Row("NLM-avg", "nlm", {"average_neighbors": 1}, filter=True),
    Row("Noise2Void", "n2v"),
    Row("Noise2Stack self 2", "n2stack", {"mode": "self", "neighbors": 2}),
    Row("NRRN", "nrrn"),
    Row("Noise2Clean U-Net", "n2c", needs="clean"),
]
POISSON_PEAKS = [1, 2, 4, 8, 30]
GAUSSIAN_SIGMAS = [10, 15, 25, 35, 75]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per trained row")
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    args = parser.parse_args()
    train = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype("float32")
    test = read_stack(SHARED / "em_isbi2012_sstem/test_volume_zyx.tif").astype("float32")
    peaks, sigmas, budget, patch = POISSON_PEAKS, GAUSSIAN_SIGMAS, args.budget, 64
    if args.smoke:
        train, test = crop(train, 4, 48), crop(test, 4, 48)
        peaks, sigmas, budget, patch = [8], [25], 0.0, 16
    tables = {}
    for kind, levels in (("poisson", peaks), ("gaussian", sigmas)):
        columns = {}
        for level in levels:
            noise = {"noise": kind, "peak": float(level)} if kind == "poisson" else {"noise": kind, "sigma": float(level)}
            columns[level] = run_rows(ROWS, train, test, noise, budget, patch=patch, smoke=args.smoke)
        tables[kind] = columns
    body = [f"Train volume -> test volume, {train.shape} each; budget {budget:g} s per trained row; PSNR (dB) against the "
            "clean test volume (`api.evaluate`, no normalisation)."]
    for kind, columns in tables.items():
        if not columns:
            continue
        name = "peak" if kind == "poisson" else "sigma"
        rows = [[r.label] + [columns[lv][r.label]["psnr"] for lv in columns] for r in ROWS]
        body.append(f"\n## {kind.title()} noise\n\n" + markdown_table(["method"] + [f"{name}={lv}" for lv in columns], rows))
    write_result("em_nrrn_tables_smoke.md" if args.smoke else "em_nrrn_tables.md", "Paper 003 Tables 4A/4B on ISBI 2012 EM", "\n".join(body))


if __name__ == "__main__":
    main()
