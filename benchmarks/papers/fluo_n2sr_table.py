"""Paper 002 Table 1 on two fluorescence stacks: Gaussian sigma 15, Poisson lambda 20, Poisson 15 + Gaussian 5.

    python -m benchmarks.papers.fluo_n2sr_table [--steps 250] [--datasets tribolium arabidopsis] [--smoke]

The paper adds noise to 8-bit FMD averages; here each stack is scaled to 0-255 (its min and max)
and taken as clean, so sigma is in 0-255 units and lambda is the photon count at the maximum
(Poisson(lambda * x / 255) * 255 / lambda). Train on the first half of the planes, score on the
second half. Rows: BM3D (left out when the bm3d extra is absent), N2V, N2SR, Noise2Stack self 2,
Noise2Noise (an independent second noisy copy of the training planes); the same budget for every
trained row: ``--steps`` optimisation steps of batch 16 (250 steps: 48-58 s on 2 idle cores).
Writes ``papers/results/<--name>.md``; ``--smoke`` (< 30 s) checks the script on a small crop with
two training steps per row.
"""

from __future__ import annotations

import argparse

from benchmarks.harness import DATASETS, crop, markdown_table, write_result
from benchmarks.papers._rows import Row, bm3d_available, run_rows

ROWS = [
    Row("BM3D", "bm3d", filter=True),
    Row("N2V", "n2v"),
    Row("N2SR", "n2sr"),
    Row("Noise2Stack self 2", "n2stack", {"mode": "self", "neighbors": 2}),
    Row("Noise2Noise", "n2n", needs="copy"),
]
NOISES = {
    "Gaussian (sigma=15)": {"noise": "gaussian", "sigma": 15.0},
    "Poisson (lambda=20)": {"noise": "poisson", "peak": 20.0},
    "Poisson (lambda=15) + Gaussian (sigma=5)": {"noise": "poisson-gaussian", "peak": 15.0, "sigma": 5.0},
}


def section(key: str, rows: list[Row], noises: dict, args) -> str:
    """PSNR/SSIM and seconds of every row and noise on one dataset."""
    stack = DATASETS[key].clean()
    stack = 255 * (stack - stack.min()) / (stack.max() - stack.min())
    half = stack.shape[0] // 2
    train, test, patch = stack[:half], stack[half:], 64
    if args.smoke:
        train, test, patch = crop(train, 3, 48), crop(test, 3, 48), 16
    table = {
        label: run_rows(rows, train, test, noise, args.steps, patch=patch, smoke=args.smoke)
        for label, noise in noises.items()
    }
    quality = [
        [label] + [f"{table[label][r.label]['psnr']:.2f}/{table[label][r.label]['ssim']:.4f}" for r in rows]
        for label in table
    ]
    seconds = [[label] + [f"{table[label][r.label]['seconds']:.0f}" for r in rows] for label in table]
    header = ["noise"] + [r.label for r in rows]
    return (
        f"\n## {DATASETS[key].name}\n\nPSNR (dB) / SSIM:\n\n"
        + markdown_table(header, quality)
        + "\n\nSeconds (training + prediction, or the filter):\n\n"
        + markdown_table(header, seconds)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250, help="optimisation steps per trained row")
    parser.add_argument("--datasets", nargs="+", default=["tribolium", "arabidopsis"], choices=list(DATASETS))
    parser.add_argument("--smoke", action="store_true", help="a < 30 s check of the script on a small crop")
    parser.add_argument(
        "--rows", nargs="+", default=None, choices=[r.label for r in ROWS], help="rerun only these rows"
    )
    parser.add_argument("--name", default="fluo_n2sr_table", help="result file name without .md")
    args = parser.parse_args(argv)
    rows = [r for r in ROWS if (r.method != "bm3d" or bm3d_available()) and (args.rows is None or r.label in args.rows)]
    noises = dict(list(NOISES.items())[:1]) if args.smoke else NOISES
    datasets = args.datasets[:1] if args.smoke else args.datasets
    body = [
        f"Budget {args.steps} steps of batch 16 per trained row{' (smoke: 2 steps)' if args.smoke else ''}; PSNR (dB) / "
        "SSIM on the second half of the planes against the 0-255-scaled stack; BM3D "
        + ("included" if bm3d_available() else "absent (extra not installed)")
        + "."
    ]
    body += [section(key, rows, noises, args) for key in datasets]
    write_result(
        __package__,
        f"{args.name}.md",
        "Paper 002 Table 1 on fluorescence stacks",
        "\n".join(body),
        smoke=args.smoke,
        seeds="training 0; noise: train 0, copy 1, test 2",
        budget=f"{args.steps} optimisation steps of batch 16 per trained row",
        tuned="the first half of the planes of each 0-255-scaled stack, with noise (Noise2Noise: and a second copy)",
        scored="the second half of the planes, fresh noise, against the 0-255-scaled stack",
    )


if __name__ == "__main__":
    main()
