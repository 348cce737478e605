"""How close the Poisson-Gaussian fit from noisy data alone comes to the true noise (issue 23, item 3).

    python -m benchmarks.quality.noise_estimate [--seeds 1 2 3] [--name noise_estimate]
    python -m benchmarks.quality.noise_estimate --smoke

PN2V with an estimated noise model ("est. NM", the path of a user without calibration data) lives
or dies by this fit: ``api.noise_model(estimate_from=noisy)`` fits ``var = gain * s + read_variance``
(:mod:`noise2stack.noise.poisson_gaussian`). Here each stack of the PN2V benchmark gets synthetic
Poisson-Gaussian noise of known gain (``max / peak``) and read variance (``sigma²``), drawn with
each of ``--seeds`` (seed 1 is the stack ``pn2v_benchmark`` evaluates), and the fit is compared with
the truth: mean ± sd over seeds of the fitted values and of their relative errors. The figure shows,
for the first seed, the binned (level, variance) points, the fitted line and the true line over the
darkest third of the levels, where the read variance decides the noise model.
Writes ``quality/results/<--name>.md`` and ``<--name>.png``.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from benchmarks.harness import (
    PN2V_NOISE,
    markdown_table,
    pn2v_dataset,
    resolve_noise,
    result_path,
    write_result,
)
from noise2stack.noise.poisson_gaussian import estimate


def truth(clean: np.ndarray, noise: dict) -> tuple[float, float]:
    """(gain, read variance) of ``noise`` on ``clean`` (``api.simulate``: counts = s * peak / max)."""
    resolved = resolve_noise(noise, clean)
    return float(clean.max()) / resolved["peak"], float(resolved.get("sigma", 0.0)) ** 2


def fit_dataset(key: str, seeds: list[int], smoke: bool) -> dict:
    """True and fitted parameters of one dataset, one fit per noise seed."""
    ds = pn2v_dataset(key)
    fits = []
    for seed in seeds:
        clean, noisy = ds.load(seed=seed)
        if smoke:
            clean, noisy = clean[:3, :48, :48], noisy[:3, :48, :48]
        fits.append(estimate(noisy))
    gain, read = truth(ds.clean(), ds.noise)  # the noise was drawn for the whole stack's maximum
    return {"name": ds.name, "noise": ds.describe(), "gain": gain, "read": read, "fits": fits}


def spread(values: list[float], digits: str = ".4g") -> str:
    sd = f" ± {statistics.stdev(values):{digits}}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):{digits}}{sd}"


def table_row(key: str, result: dict) -> list[str]:
    gains = [f["gain"] for f in result["fits"]]
    reads = [f["read_variance"] for f in result["fits"]]
    gain_error = [100 * (g / result["gain"] - 1) for g in gains]
    read_error = [100 * (r / result["read"] - 1) for r in reads]
    return [
        key,
        f"{result['gain']:.4g}",
        spread(gains),
        spread(gain_error, "+.1f"),
        f"{result['read']:.4g}",
        spread(reads),
        spread(read_error, "+.1f"),
    ]


def draw(path, results: dict) -> None:
    """Per dataset: the binned points of the first seed, the fitted and the true line (darkest third)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.4), squeeze=False)
    for ax, (key, result) in zip(axes[0], results.items()):
        fit = result["fits"][0]
        levels, variances = np.array(fit["levels"]), np.array(fit["variances"])
        top = np.quantile(levels, 1 / 3) if levels.size > 3 else levels.max()
        shown = levels <= top
        xs = np.linspace(min(0.0, levels.min()), top, 50)
        ax.plot(levels[shown], variances[shown], "o", ms=4, label="binned blocks")
        ax.plot(xs, fit["gain"] * xs + fit["read_variance"], "-", label="fitted")
        ax.plot(xs, result["gain"] * xs + result["read"], "--k", label="true")
        ax.set_title(f"{key}: read var. true {result['read']:.3g}, fitted {fit['read_variance']:.3g}", fontsize=8)
        ax.set_xlabel("level (image units)")
        ax.set_ylabel("noise variance")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(PN2V_NOISE), choices=list(PN2V_NOISE))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="noise seeds (1: pn2v_benchmark's)")
    parser.add_argument("--name", default="noise_estimate", help="result file name (without .md)")
    parser.add_argument("--smoke", action="store_true", help="3 planes of 48 x 48")
    args = parser.parse_args(argv)
    results = {key: fit_dataset(key, args.seeds, args.smoke) for key in args.datasets}
    rows = [table_row(key, result) for key, result in results.items()]
    header = ["stack", "true gain", "fitted gain", "gain error %", "true read var.", "fitted read var.", "read error %"]
    notes = "\n".join(f"- {key}: {r['name']}, noise {r['noise']}." for key, r in results.items())
    figure = f"{args.name}.png"
    draw(result_path(__package__, figure, args.smoke), results)
    body = (
        f"`noise.poisson_gaussian.estimate` on each whole noisy stack; mean ± sd over noise seeds {args.seeds}. "
        f"Figure: `{figure}` (seed {args.seeds[0]}).\n\n{notes}\n\n" + markdown_table(header, rows)
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "Poisson-Gaussian noise estimated from the noisy stack against the truth",
        body,
        smoke=args.smoke,
        seeds=f"noise {args.seeds} (no training)",
        budget="no training: one fit per stack and seed",
        tuned="nothing (the estimator's constants were set on tests/noise's synthetic scenes)",
        scored="the PN2V benchmark's stacks with their synthetic noise (PN2V_NOISE)",
    )


if __name__ == "__main__":
    main()
