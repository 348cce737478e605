"""Paper 003 Tables 4A/4B on ISBI 2012 EM: train on the train volume, score on the test volume.

    python -m benchmarks.papers.em_nrrn_tables [--steps 250] [--long-factor 5] [--score-side 256] [--smoke]

Poisson noise with peak 1, 2, 4, 8, 30 and Gaussian noise with sigma 10, 15, 25, 35, 75 (0-255
units; the volumes are uint8). Rows: Input; Gaussian filter, median and NLM on the 3-plane average
(each plane averaged with one neighbour per side, as the paper's "-avg" rows); Noise2Void;
Noise2Stack self 2; NRRN; Noise2Clean U-Net. Every trained row gets the same budget: ``--steps``
optimisation steps of batch 16 (250 steps = 58 s on 2 idle cores, 0.23 s a step), and NRRN the steps
that take as long: batch 4 (a batch of 16 costs ~9 s a step), 50 steps (1.18 s a step, measured).
``--long-factor F`` adds, at Poisson peak 8, NRRN and the Noise2Clean U-Net with F times the budget.
Every row is scored on the central ``--score-side`` square of all 30 test planes (NRRN predicts a
512 x 512 plane in ~10 s on 2 cores).

A 5 nm-like stack: the ISBI sections are 50 nm apart but the pixels are 4 nm, so the volume re-sliced
along X is a stack of 512 planes (Z x Y = 30 x 512) 4 nm apart, with the strong plane-to-plane
sharing of the paper's 5 nm FIB-SEM. It is run at Poisson peak 8 and Gaussian sigma 25 (patch 24;
scored on 128 central planes x 256 central Y).
Writes ``papers/results/<--name>.md`` and ``.json``. ``--smoke`` runs one level of each noise on a
small crop with two training steps per row (< 30 s): it checks the script, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.harness import EM_TEST, EM_TRAIN, crop, load_stack, markdown_table, result_path, write_result
from benchmarks.papers._rows import Row, reslice, run_rows

NRRN_STEPS = 50  # batch 4: 1.18 s a step, the time of 250 U-Net steps of batch 16 on 2 idle cores
ROWS = [
    Row("Input", "input"),
    Row("Gauss-avg", "gaussian", {"average_neighbors": 1}, filter=True),
    Row("Median-avg", "median", {"average_neighbors": 1}, filter=True),
    Row("NLM-avg", "nlm", {"average_neighbors": 1}, filter=True),
    Row("Noise2Void", "n2v"),
    Row("Noise2Stack self 2", "n2stack", {"mode": "self", "neighbors": 2}),
    Row("NRRN", "nrrn", {"batch": 4}, steps=NRRN_STEPS),
    Row("Noise2Clean U-Net", "n2c", needs="clean"),
]
POISSON_PEAKS = [1, 2, 4, 8, 30]
GAUSSIAN_SIGMAS = [10, 15, 25, 35, 75]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=250, help="optimisation steps per trained row (NRRN: 50 at batch 4)"
    )
    parser.add_argument(
        "--long-factor", type=int, default=5, help="NRRN and Noise2Clean with this many times the budget (0: leave out)"
    )
    parser.add_argument("--score-side", type=int, default=256, help="score on the central square of this side")
    parser.add_argument("--no-resliced", action="store_true", help="leave out the 5 nm-like re-sliced stack")
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    parser.add_argument(
        "--rows",
        nargs="+",
        default=None,
        choices=[r.label for r in ROWS],
        help="rerun only these rows (and Input); the long-budget section is left out",
    )
    parser.add_argument("--name", default="em_nrrn_tables", help="result file name without .md")
    return parser.parse_args(argv)


def _noise(kind: str, level: float) -> dict:
    return {"noise": kind, "peak": float(level)} if kind == "poisson" else {"noise": kind, "sigma": float(level)}


def _tables(tables: dict, rows: list[Row], heading: bool = True) -> list[str]:
    """PSNR and seconds tables, one pair per noise kind."""
    body = []
    for kind, columns in tables.items():
        if not columns:
            continue
        prefix = {"poisson": "peak=", "gaussian": "sigma="}.get(kind, "")
        header = ["method"] + [f"{prefix}{lv}" for lv in columns]
        psnr = [[r.label] + [columns[lv][r.label]["psnr"] for lv in columns] for r in rows]
        seconds = [[r.label] + [f"{columns[lv][r.label]['seconds']:.0f}" for lv in columns] for r in rows]
        title = f"\n## {kind.title()} noise\n\n" if heading else "\n"
        body.append(
            title
            + "PSNR (dB):\n\n"
            + markdown_table(header, psnr)
            + "\n\nSeconds (training + prediction, or the filter):\n\n"
            + markdown_table(header, seconds)
        )
    return body


def long_section(factor: int, steps: int, patch: int, train, test, tables: dict) -> str:
    """NRRN and the Noise2Clean U-Net at ``factor`` times the budget, Poisson peak 8."""
    long_rows = [
        Row(f"NRRN ({factor}x)", "nrrn", {"batch": 4}, steps=NRRN_STEPS * factor),
        Row(f"Noise2Clean U-Net ({factor}x)", "n2c", needs="clean", steps=steps * factor),
    ]
    long = tables["long"] = run_rows(long_rows, train, test, _noise("poisson", 8), steps, patch=patch)
    rows = [
        [
            r.label,
            long[r.label]["steps"],
            long[r.label]["psnr"],
            long[r.label]["ssim"],
            f"{long[r.label]['seconds']:.0f}",
        ]
        for r in long_rows
    ]
    return f"\n## {factor}x the budget, Poisson peak 8\n\n" + markdown_table(
        ["method", "steps", "PSNR (dB)", "SSIM", "seconds (train + predict)"], rows
    )


def resliced(train: np.ndarray, test: np.ndarray, steps: int, smoke: bool, rows: list[Row]) -> dict:
    """Rows on the X-re-sliced volumes (planes 4 nm apart) at Poisson 8 and Gaussian 25."""
    train_x, test_x = reslice(train), reslice(test, 128)  # (X, Z, Y)
    patch = 24
    if smoke:
        train_x, test_x, patch = np.ascontiguousarray(train_x[:6, :, :48]), np.ascontiguousarray(test_x[:6, :, :48]), 16
    levels = {"Poisson peak 8": _noise("poisson", 8), "Gaussian sigma 25": _noise("gaussian", 25)}
    return {
        label: run_rows(rows, train_x, test_x, noise, steps, patch=patch, smoke=smoke)
        for label, noise in levels.items()
    }


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    rows = [r for r in ROWS if args.rows is None or r.label in args.rows or r.label == "Input"]
    long_factor = 0 if args.rows is not None or args.smoke else args.long_factor
    volumes = [load_stack(path).astype("float32") for path in (EM_TRAIN, EM_TEST)]
    train, test = volumes
    peaks, sigmas, steps, patch = POISSON_PEAKS, GAUSSIAN_SIGMAS, args.steps, 64
    if args.smoke:
        train, test = crop(train, 4, 48), crop(test, 4, 48)
        peaks, sigmas, steps, patch = [8], [25], 2, 16
    else:
        test = crop(test, test.shape[0], min(args.score_side, test.shape[1]))
    tables = {
        kind: {lv: run_rows(rows, train, test, _noise(kind, lv), steps, patch=patch, smoke=args.smoke) for lv in levels}
        for kind, levels in (("poisson", peaks), ("gaussian", sigmas))
    }
    body = [
        f"Train volume {train.shape} -> test volume, scored on {test.shape} (central crop); budget {steps} steps of batch "
        f"16 per trained row, NRRN {NRRN_STEPS} steps of batch 4 (the same ~60 s on 2 idle cores); 64 x 64 patches; "
        "PSNR (dB) against the clean test volume (`api.evaluate`, no normalisation)."
    ]
    body += _tables(tables, rows)
    if long_factor:
        body.append(long_section(long_factor, steps, patch, train, test, tables))
    if not args.no_resliced:
        tables["resliced"] = resliced(*volumes, steps, args.smoke, rows)
        body.append(
            "\n## 5 nm-like stack: the volumes re-sliced along X (planes 4 nm apart)\n\n"
            "Train: the train volume as 512 X-planes of 30 x 512 (Z x Y); test: 128 central X-planes x 30 x the "
            "central 256 Y of the test volume; patch 24. Same rows and budget."
        )
        body += _tables({"resliced": tables["resliced"]}, rows, heading=False)
    raw = {k: {str(lv): v for lv, v in t.items()} for k, t in tables.items()}
    result_path(__package__, f"{args.name}.json", args.smoke).write_text(json.dumps(raw, indent=1))
    write_result(
        __package__,
        f"{args.name}.md",
        "Paper 003 Tables 4A/4B on ISBI 2012 EM",
        "\n".join(body),
        smoke=args.smoke,
        seeds="training 0; noise: train 0, copy 1, test 2",
        budget=f"{steps} optimisation steps of batch 16 per trained row; NRRN {NRRN_STEPS} of batch 4",
        tuned="ISBI EM train volume with noise (Noise2Clean: against the clean train volume)",
        scored=f"ISBI EM test volume, central {test.shape}, with noise, against the clean test volume",
    )


if __name__ == "__main__":
    main()
