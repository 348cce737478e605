"""NRRN's learning rate and building units at CPU budgets (issue 23, item 2).

    python -m benchmarks.papers.nrrn_defaults [--smoke]

The set-up of ``papers.em_nrrn_tables`` at Poisson peak 8: ISBI EM train volume -> test volume
(central 256 x 256), and the volumes re-sliced along X (planes 4 nm apart, patch 24), where
neighbouring planes share signal as in paper 003's FIB-SEM. Rows: NRRN as the paper states it (Adam
1e-4, 4 building units), at 1e-3 with 4 units, and today's defaults (1e-3, 1 unit, as the authors'
training script builds it) at 50 and 200 steps of batch 4; Noise2Void and Noise2Stack self 2 at 250
steps of batch 16 for reference. Steps, not seconds: the seconds column (training + prediction)
gives the cost. Writes ``papers/results/nrrn_defaults.md``.
"""

from __future__ import annotations

import argparse

from benchmarks.harness import EM_TEST, EM_TRAIN, crop, load_stack, markdown_table, write_result
from benchmarks.papers._rows import Row, reslice, run_rows

ROWS = [
    Row("NRRN, paper (lr 1e-4, 4 units), 50 steps", "nrrn", {"batch": 4, "lr": 1e-4, "units": 4}, steps=50),
    Row("NRRN, lr 1e-3, 4 units, 50 steps", "nrrn", {"batch": 4, "units": 4}, steps=50),
    Row("NRRN, defaults (lr 1e-3, 1 unit), 50 steps", "nrrn", {"batch": 4}, steps=50),
    Row("NRRN, defaults, 200 steps", "nrrn", {"batch": 4}, steps=200),
    Row("Noise2Void, 250 steps", "n2v"),
    Row("Noise2Stack self 2, 250 steps", "n2stack", {"mode": "self", "neighbors": 2}),
]
NOISE = {"noise": "poisson", "peak": 8.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a small crop and two steps per row")
    args = parser.parse_args(argv)
    train, test = (load_stack(p).astype("float32") for p in (EM_TRAIN, EM_TEST))
    stacks = {
        "ISBI EM (50 nm sections)": (train, crop(test, test.shape[0], 256), 64),
        "re-sliced (planes 4 nm apart)": (reslice(train), reslice(test, 128), 24),
    }
    if args.smoke:
        stacks = {k: (crop(a, 6, 48), crop(b, 6, 48), 8) for k, (a, b, _) in stacks.items()}
    results, body = {}, []
    for name, (train_stack, test_stack, patch) in stacks.items():
        rows = [r for r in ROWS if "self" not in r.label or "re-sliced" in name]
        results[name] = run_rows(rows, train_stack, test_stack, NOISE, 250, patch=patch, smoke=args.smoke)
        table = [
            [
                r.label,
                results[name][r.label]["steps"],
                f"{results[name][r.label]['psnr']:.2f}",
                f"{results[name][r.label]['seconds']:.0f}",
            ]
            for r in rows
        ]
        body.append(f"## {name}\n\n" + markdown_table(["row", "steps", "PSNR (dB)", "seconds"], table))
    text = (
        "Poisson peak 8, seed 0; PSNR against the clean test planes (`api.evaluate`, no normalisation); "
        "seconds: training + prediction on 2 cores, `--precision auto`.\n\n"
        + "\n\n".join(body)
        + f"\n\nRaw: `{results}`"
    )
    write_result(
        __package__,
        "nrrn_defaults.md",
        "NRRN's learning rate and building units at CPU budgets",
        text,
        smoke=args.smoke,
        seeds="training 0; noise: train 0, copy 1, test 2",
        budget="fixed steps per row (the row says); NRRN batch 4, the others batch 16",
        tuned="ISBI EM train volume with noise (and its re-sliced planes)",
        scored="ISBI EM test volume with fresh noise, central 256 x 256 (re-sliced: 128 central X-planes)",
    )


if __name__ == "__main__":
    main()
