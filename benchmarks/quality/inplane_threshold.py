"""Where should `analyze` call in-plane noise correlated? Calibrating ``CORRELATED_IN_PLANE`` (issue 24).

    python -m benchmarks.quality.inplane_threshold [--fractions 0 0.01 0.025 0.05 0.1] [--smoke]

For each stack of the harness's ``DATASETS`` with its benchmark noise (independent between pixels),
and with Gaussian noise smoothed by a box of 5 pixels along X (rows) or along Y (columns) added on
top, of standard deviation the given fraction of the clean maximum (the noise of
``blindspot.md``'s correlated part, where the struct mask gained +2.47 dB over Noise2Void at 5 %
and +5.43 at 10 % on Tribolium): `analyze`'s lag-1 noise autocorrelation along Y and X, and the blind
spot it recommends. A threshold works if no stack with independent noise reaches it and every
stack with row or column noise that a mask helps does. No training: about a minute on 2 cores.
Writes ``quality/results/inplane_threshold.md``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import ndimage

from benchmarks.harness import DATASETS, markdown_table, write_result
from noise2stack import api
from noise2stack.metrics.stack_analysis import CORRELATED_IN_PLANE

LINE = 5  # px: the box that correlates the added noise (blindspot.py's row noise)
SEED = 7


def line_noise(shape: tuple, sigma: float, axis: int, seed: int) -> np.ndarray:
    """Gaussian noise of standard deviation ``sigma`` smoothed by a box of :data:`LINE` px along ``axis``."""
    white = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ndimage.uniform_filter1d(white, LINE, axis=axis, mode="wrap") * np.float32(sigma * np.sqrt(LINE))


def measure(noisy: np.ndarray) -> dict:
    """`analyze`'s lag-1 autocorrelation along Y and X and its recommended blind spot."""
    result = api.analyze(noisy)
    auto = result["noise_autocorrelation"]
    rec = result["recommendation"]
    return {  # lags are keyed by int, or by str once through JSON
        "y1": auto["y"].get(1, auto["y"].get("1")),
        "x1": auto["x"].get(1, auto["x"].get("1")),
        "shape": f"{rec.get('blindspot_shape', 'pixel')} {rec.get('blindspot_length', 1)}",
    }


def run(fractions: list[float], smoke: bool) -> dict:
    results: dict = {}
    for key, dataset in DATASETS.items():
        clean, noisy = dataset.load(seed=1)
        if smoke:
            clean, noisy = clean[:6, :64, :64], noisy[:6, :64, :64]
        for fraction in fractions:
            axes = [("independent", None)] if fraction == 0 else [("rows (X)", 2), ("columns (Y)", 1)]
            for label, axis in axes:
                stack = noisy
                if axis is not None:
                    stack = noisy + line_noise(noisy.shape, fraction * float(clean.max()), axis, SEED)
                results[f"{key}|{fraction}|{label}"] = measure(stack)
                print(key, fraction, label, results[f"{key}|{fraction}|{label}"], flush=True)
    return results


def body(results: dict) -> str:
    rows = []
    for name, r in results.items():
        key, fraction, label = name.split("|")
        rows.append([key, f"{float(fraction) * 100:g} %", label, f"{r['y1']:.3f}", f"{r['x1']:.3f}", r["shape"]])
    independent = [max(r["y1"], r["x1"]) for n, r in results.items() if n.split("|")[2] == "independent"]
    table = markdown_table(
        ["stack", "added line noise (sd / max)", "along", "lag-1 Y", "lag-1 X", "advice (shape length)"], rows
    )
    return (
        f"Threshold in the package when this ran: `CORRELATED_IN_PLANE` = {CORRELATED_IN_PLANE}. "
        f"Highest lag-1 value with independent noise only: {max(independent):.3f}.\n\n{table}\n\n"
        f"Raw: `{json.dumps(results)}`"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0, 0.01, 0.025, 0.05, 0.1])
    parser.add_argument("--smoke", action="store_true", help="crops of 6 x 64 x 64")
    parser.add_argument("--name", default="inplane_threshold")
    args = parser.parse_args()
    results = run(args.fractions, args.smoke)
    write_result(
        "quality",
        f"{args.name}.md",
        "In-plane noise correlation: what analyze measures, and the threshold that tells it apart",
        body(results),
        smoke=args.smoke,
        seeds=f"noise 1 (the harness's), line noise {SEED}",
        budget="no training",
        tuned="the threshold is set from this table (all planes of each stack)",
        scored="the same stacks: a calibration, not a held-out test",
    )


if __name__ == "__main__":
    main()
