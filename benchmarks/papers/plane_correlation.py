"""How much signal neighbouring planes share: the premise of Noise2Stack's self-supervised mode.

    python -m benchmarks.papers.plane_correlation

For every clean stack of the benchmarks, the Pearson correlation between plane i and plane i+d
(d = 1, 2, 3), averaged over i, and the best PSNR any per-plane affine map of the mean of the d
nearest neighbours on each side can reach against plane i: an upper bound for a "denoiser" that
only averages neighbours, and a measure of how predictable a plane is from the others.
Seconds to run. Writes ``papers/results/plane_correlation.md``.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.harness import DATASETS, MNI152, load_stack, markdown_table, middle_planes, write_result

HEADER = [
    "stack",
    "r (d=1)",
    "r (d=2)",
    "r (d=3)",
    "neighbour PSNR, 1 each side (dB)",
    "neighbour PSNR, 2 each side (dB)",
]


def neighbour_correlation(stack: np.ndarray, distance: int) -> float:
    """Mean over i of the Pearson r between plane i and plane i + ``distance``."""
    a = stack[:-distance].reshape(stack.shape[0] - distance, -1)
    b = stack[distance:].reshape(stack.shape[0] - distance, -1)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return float(np.mean((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))))


def mean_of_neighbours_psnr(stack: np.ndarray, half: int) -> float:
    """PSNR (dB, data range of each plane) of plane i against its best affine fit from the mean of i±1..i±half."""
    values = []
    for i in range(half, stack.shape[0] - half):
        target = stack[i].ravel().astype(np.float64)
        guess = np.mean([stack[i + d] for d in range(-half, half + 1) if d != 0], axis=0).ravel()
        design = np.stack([guess, np.ones_like(guess)], 1)
        fit = design @ np.linalg.lstsq(design, target, rcond=None)[0]
        mse = np.mean((fit - target) ** 2)
        values.append(10 * np.log10((target.max() - target.min()) ** 2 / mse))
    return float(np.mean(values))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    stacks = {ds.name: ds.clean() for ds in DATASETS.values()}
    z0, mni = middle_planes(load_stack(MNI152).astype(np.float32), 100)
    stacks[f"MNI152 template (planes {z0}-{z0 + 99})"] = mni
    rows = []
    for name, stack in stacks.items():
        stack = stack.astype(np.float64)
        rows.append(
            [
                name,
                *(round(neighbour_correlation(stack, d), 3) for d in (1, 2, 3)),
                *(round(mean_of_neighbours_psnr(stack, h), 2) for h in (1, 2)),
            ]
        )
    body = (
        "Clean stacks. Correlation: Pearson r between plane i and plane i+d, mean over i. Neighbour PSNR: "
        "plane i against the best affine fit of the mean of its d nearest neighbours on each side "
        "(data range of plane i), mean over planes.\n\n" + markdown_table(HEADER, rows)
    )
    print(body)
    write_result(
        __package__,
        "plane_correlation.md",
        "How much signal neighbouring planes share",
        body,
        seeds="none (no noise, no training)",
        budget="none",
        tuned="nothing",
        scored="the clean stacks of the harness' DATASETS and MNI152 planes 44-143",
    )


if __name__ == "__main__":
    main()
