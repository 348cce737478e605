"""Time-lapse fidelity on a synthetic calcium movie with known spikes (issue 24, part 3).

    python -m benchmarks.quality.timelapse [--budget 60] [--frames 400] [--seed 0] [--smoke]
    python -m benchmarks.quality.timelapse --drift 4 --name timelapse_drift4      # moving cells
    python -m benchmarks.quality.timelapse --peak 5 --name timelapse_peak5        # 4x fewer photons

The movie (:func:`noise2stack.noise.calcium.calcium_movie`: cells firing at random, GCaMP-like
transients, Poisson-Gaussian noise of 20 photons at the maximum, seed stated) is the training stack
(axes TYX, the network sees frames t ± 1 as neighbours) and the stack scored. Each method trains for
the budget at its defaults; then, for the noisy movie and each prediction: PSNR against the clean
movie, the median ΔF/F trace correlation with the clean traces over the cells' footprints, the
residual's lag-1 autocorrelation along T, Y and X, and spike detection (a rise above 4 robust
standard deviations of the ΔF/F trace's rises, matched within 2 frames) against the true spikes:
recall and precision over all cells. ``--drift`` moves every cell by that many pixels over the movie
(the footprints that score the traces stay where the cells start, as a user's regions drawn on the
first frames would); ``--peak`` sets the photons at the maximum. Writes ``quality/results/<--name>.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import cpu_model, flags_text, markdown_table, steps_done, write_result
from noise2stack import api
from noise2stack.metrics.temporal import (
    delta_f_over_f,
    detect_spikes,
    region_traces,
    residual_whiteness,
    spike_scores,
    trace_correlations,
)
from noise2stack.noise.calcium import CalciumMovie, calcium_movie

ROWS = {  # label -> training options
    "Noise2Stack self 2 (frames t ± 1)": {"method": "n2stack", "mode": "self", "neighbors": 2},
    "blind-spot Noise2Stack 2": {"method": "n2stack", "mode": "blindspot", "neighbors": 2},
    "Noise2Void": {"method": "n2v"},
}


def spikes(movie: CalciumMovie, stack: np.ndarray) -> tuple[float, float]:
    """(recall, precision) of the spikes detected on ``stack``'s ΔF/F traces over all cells."""
    traces = delta_f_over_f(region_traces(stack, movie.labels))
    totals = np.zeros(3)
    for r, trace in enumerate(traces):
        totals += spike_scores(detect_spikes(trace), movie.spikes[r])
    hits, detected, true = totals
    return hits / max(true, 1), hits / max(detected, 1)


def scores(movie: CalciumMovie, stack: np.ndarray) -> dict:
    recall, precision = spikes(movie, stack)
    correlations = [r for r in trace_correlations(stack, movie.clean, movie.labels) if r is not None]
    return {
        "psnr": api.evaluate(stack, movie.clean, axes="TYX")["psnr"],
        "trace_r": float(np.median(correlations)),
        "whiteness": residual_whiteness(movie.noisy, stack),
        "recall": recall,
        "precision": precision,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift", type=float, default=0.0, help="pixels each cell moves over the movie")
    parser.add_argument("--peak", type=float, default=20.0, help="photons at the clean maximum")
    parser.add_argument("--name", default="timelapse", help="result file name (without .md)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    budget, frames = (3, 40) if args.smoke else (args.budget, args.frames)
    movie = calcium_movie(frames=frames, seed=args.seed, drift=args.drift, peak=args.peak)
    results = {"noisy input": {**scores(movie, movie.noisy), "steps": 0}, "clean": scores(movie, movie.clean)}
    with tempfile.TemporaryDirectory() as tmp:
        for label, options in ROWS.items():
            folder = Path(tmp) / label.split()[0]
            model = api.train(
                movie.noisy, folder, axes="TYX", max_time=budget, seed=args.seed, progress=False, **options
            )
            prediction = api.predict(model, movie.noisy, progress=False)
            assert prediction.shape == movie.noisy.shape, "every frame comes back"
            results[label] = {**scores(movie, prediction), "steps": steps_done(folder)}
            print(label, results[label], flush=True)
    rows = [
        [
            label,
            f"{r['psnr']:.2f}",
            f"{r['trace_r']:.3f}",
            " / ".join(f"{r['whiteness'][k]:+.3f}" for k in "tyx"),
            f"{r['recall']:.2f}",
            f"{r['precision']:.2f}",
            str(r.get("steps", "")),
        ]
        for label, r in results.items()
    ]
    true = sum(len(s) for s in movie.spikes)
    body = "\n".join(
        [
            f"CPU: {cpu_model()}; flags: {flags_text()}.",
            "",
            f"Movie: {frames} frames of 64 x 64, {movie.labels.max()} cells, {true} spikes, each cell moving "
            f"{args.drift:g} px over the movie; Poisson-Gaussian noise, {args.peak:g} photons at the maximum. Each method {budget:g} s of training at its defaults (steps in the last column).",
            "",
            markdown_table(
                [
                    "stack",
                    "PSNR dB",
                    "ΔF/F r (median)",
                    "residual lag-1 r, T / Y / X",
                    "spike recall",
                    "spike precision",
                    "steps",
                ],
                rows,
            ),
            "",
            "The clean row is the detector's ceiling (its residual is the noise itself, white).",
            "",
            f"Raw: `{json.dumps(results)}`",
        ]
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "Time-lapse fidelity on a synthetic calcium movie",
        body,
        smoke=args.smoke,
        seeds=f"movie and training {args.seed} (noise: seed + 1)",
        budget=f"{budget:g} s wall clock per model",
        tuned="nothing tuned here (every method at its defaults; the spike detector fixed beforehand: 4 robust sd, 2 frames)",
        scored="the training movie itself (self-supervised: no other data)",
    )


if __name__ == "__main__":
    main()
