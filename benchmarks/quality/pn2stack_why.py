"""Why pn2stack trails Noise2Stack self at a fixed budget: samples K, budget, and what plane i adds.

    python -m benchmarks.quality.pn2stack_why [--budget 120] [--dataset tribolium]
    python -m benchmarks.quality.pn2stack_why --smoke

Same data and noise as ``quality.pn2v_benchmark`` (the harness' ``PN2V_NOISE``, Poisson-Gaussian; the
true noise model from a second noise realisation). Rows: pn2stack 2 with K = 64 and K = 16 at the budget, K = 64 at twice the
budget, and Noise2Stack self 2 at both budgets. For every pn2stack row the table also gives the
PSNR of the prior mean (the mean of the K samples, which never saw plane i) beside the MMSE
estimate (which adds plane i through the noise model), and the optimisation steps it made.
Writes ``quality/results/pn2stack_why.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import PN2V_NOISE, markdown_table, pn2v_dataset, steps_done, write_result
from noise2stack import api
from noise2stack.data.sampler import plane_inputs  # internal: the network's input planes for its raw samples
from noise2stack.metrics import evaluate_stack
from noise2stack.noise.histogram import data_range, from_pairs  # internal: a value range wider than the pairs'

ROWS = [  # (label, K samples or None for Noise2Stack, budget factor)
    ("pn2stack 2, K=64", 64, 1.0),
    ("pn2stack 2, K=16", 16, 1.0),
    ("pn2stack 2, K=64", 64, 2.0),
    ("Noise2Stack self 2", None, 1.0),
    ("Noise2Stack self 2", None, 2.0),
]


def prior_mean(model, noisy: np.ndarray) -> np.ndarray:
    """The mean of the network's K samples per pixel, in raw units (no observation used)."""
    norm = model.normalizer.normalize(noisy)
    out = np.empty_like(norm)
    model.net.eval()
    with torch.inference_mode():
        for z in range(norm.shape[0]):
            x = torch.from_numpy(plane_inputs(norm, z, model.neighbors, model.include_center)[None])
            out[z] = model.net(x)[0].mean(0).numpy()
    return model.normalizer.denormalize(out)


def row_options(k: int | None, factor: float, args, noise_model: Path) -> dict:
    """Training options of one row."""
    opts = dict(progress=False, seed=0, overwrite=True, neighbors=2)
    opts.update(
        dict(epochs=1, steps_per_epoch=2, patch=32, batch=4, val_patches=4)
        if args.smoke
        else dict(max_time=factor * args.budget)
    )
    if k is not None:
        opts.update(method="pn2stack", noise_model=str(noise_model), noise_model_clip=True, pn2v_samples=k)
    return opts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--dataset", default="tribolium", choices=list(PN2V_NOISE))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    ds = pn2v_dataset(args.dataset)
    clean, noisy = ds.load(seed=1)
    noisy2 = ds.load(seed=2)[1]
    if args.smoke:
        clean, noisy, noisy2 = (a[:6, :64, :64].copy() for a in (clean, noisy, noisy2))
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        nm = Path(tmp) / "nm.npz"
        from_pairs(clean, noisy2, value_range=data_range(clean, noisy, noisy2)).save(nm)
        for i, (label, k, factor) in enumerate(ROWS):
            model = api.train(noisy, Path(tmp) / f"m{i}", **row_options(k, factor, args, nm))
            psnr = evaluate_stack(api.predict(model, noisy, progress=False), clean, "care")["psnr"]
            prior = evaluate_stack(prior_mean(model, noisy), clean, "care")["psnr"] if k is not None else float("nan")
            budget = "smoke" if args.smoke else f"{factor * args.budget:g} s"
            table.append([label, budget, steps_done(Path(tmp) / f"m{i}"), prior, psnr])
            print(table[-1], flush=True)
    body = (
        f"{ds.name}, noise {ds.describe()}, true noise model from a second realisation; CARE-normalised PSNR (dB), "
        "means over planes. 'prior mean' = the mean of the K samples (plane i unseen); 'result' = the MMSE "
        "estimate for pn2stack, the prediction for Noise2Stack.\n\n"
        + markdown_table(["row", "budget", "steps", "prior mean PSNR", "result PSNR"], table)
    )
    write_result(
        __package__,
        "pn2stack_why.md",
        "Why pn2stack trails Noise2Stack self",
        body,
        smoke=args.smoke,
        seeds="training 0; noise: evaluated stack 1, noise model 2",
        budget=f"{args.budget:g} s and {2 * args.budget:g} s of training per row",
        tuned=f"the noisy {args.dataset} stack itself; noise model from a second realisation",
        scored=f"the same noisy {args.dataset} stack's prediction against its clean stack (CARE-normalised)",
    )


if __name__ == "__main__":
    main()
