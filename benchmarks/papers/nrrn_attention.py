"""What NRRN's building unit removes: its noise attention on a picture (paper 003 Fig. 1E; issue 23, item 2).

    python -m benchmarks.papers.nrrn_attention [--steps 200] [--smoke]

NRRN at its defaults (1 building unit, lr 1e-3, batch 4, patch 24, float32, seed 0) trained for
``--steps`` steps on the ISBI EM train volume re-sliced along X (planes 4 nm apart, Poisson peak 8,
``papers.nrrn_defaults``' set-up), then run on a plane of the re-sliced test volume, noisy and
noise-free. Per unit, the branch (x_{j-1}, x_j) gives its attention max_channels(ĥ) and the noise
estimate n it subtracts from the running image (Fig. 1E). A denoiser that has learnt noise subtracts
much from the noisy plane and little from the clean one; one that subtracts as much from both
removes signal. Writes ``papers/results/nrrn_attention.md`` and ``nrrn_attention.png``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import EM_TEST, EM_TRAIN, NOISE_SEEDS, load_stack, result_path, simulate, write_result
from benchmarks.papers._rows import reslice
from noise2stack import api
from noise2stack.data.sampler import plane_inputs

NOISE = {"noise": "poisson", "peak": 8.0}


def unit_maps(model, stack: np.ndarray, plane: int) -> dict:
    """The branch (x_{j-1}, x_j) on ``plane`` of ``stack``: per unit attention and noise estimate, and
    the running image after the last unit, all (Y, X) in network units."""
    triplet = model.normalizer.normalize(plane_inputs(stack, plane, 2, True)[np.newaxis])
    x = torch.from_numpy(np.ascontiguousarray(triplet, dtype=np.float32))
    trace: list = []
    with torch.no_grad():
        output, running = model.net.float().eval().branch(x[:, 0:1], x[:, 1:2], trace)
    maps = {f"{key} {u + 1}": t[key][0, 0].numpy() for u, t in enumerate(trace) for key in ("attention", "noise")}
    maps["input"] = triplet[0, 1]
    maps["running"] = running[-1][0, 0].numpy()
    maps["output"] = output[0, 0].numpy()  # the running image corrected by the final layer
    return maps


def figure(noisy_maps: dict, clean_maps: dict, units: int, path: Path) -> None:
    from matplotlib.figure import Figure

    columns = (
        ["input"] + [f"{k} {u}" for u in range(1, units + 1) for k in ("attention", "noise")] + ["running", "output"]
    )
    fig = Figure(figsize=(2.6 * len(columns), 2.4), layout="constrained")
    axes = fig.subplots(2, len(columns), squeeze=False)
    for row, (label, maps) in enumerate((("noisy plane", noisy_maps), ("noise-free plane", clean_maps))):
        for col, key in enumerate(columns):
            ax = axes[row, col]
            same = noisy_maps[key] if key.startswith(("noise ", "attention")) else None
            lo, hi = np.percentile(same, [1, 99]) if same is not None else np.percentile(maps[key], [1, 99])
            ax.imshow(maps[key], cmap="gray", vmin=lo, vmax=hi, aspect="auto")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{label}: {key}" if col == 0 else key, fontsize=8)
    fig.suptitle("NRRN (paper 003 Fig. 1E): what each building unit subtracts (same grey scale per column)", fontsize=9)
    fig.savefig(path, dpi=110)


def psnr(model, stack: np.ndarray, clean: np.ndarray) -> float:
    return api.evaluate(api.predict(model, stack, progress=False), clean, normalize="none")["psnr"]


def train_and_score(noisy_train, noisy_test, test, folder: Path, steps: int, smoke: bool) -> tuple:
    """NRRN (``steps`` of batch 4) and, for scale, Noise2Void (its defaults, 250 steps) trained on the same
    noisy stack; each scored on the noisy and on the noise-free test stack (dB)."""
    patch = 8 if smoke else 24
    common = dict(patch=patch, precision="32", seed=0, progress=False)
    model = api.train(
        noisy_train,
        folder / "m",
        method="nrrn",
        batch=4,
        epochs=max(steps // 50, 1),
        steps_per_epoch=min(steps, 50),
        **common,
    )
    n2v_steps = dict(epochs=1, steps_per_epoch=2) if smoke else dict(epochs=5, steps_per_epoch=50)
    n2v = api.train(noisy_train, folder / "n2v", method="n2v", **common, **n2v_steps)
    scores = {
        "noisy input": api.evaluate(noisy_test, test, normalize="none")["psnr"],
        "NRRN on the noisy stack": psnr(model, noisy_test, test),
        "NRRN on the noise-free stack": psnr(model, test, test),
        "Noise2Void (250 steps of batch 16) on the noisy stack": psnr(n2v, noisy_test, test),
        "Noise2Void on the noise-free stack": psnr(n2v, test, test),
    }
    return model, scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="optimisation steps of batch 4")
    parser.add_argument("--smoke", action="store_true", help="a small crop and 2 steps")
    args = parser.parse_args(argv)
    train, test = (load_stack(p).astype(np.float32) for p in (EM_TRAIN, EM_TEST))
    train, test = reslice(train), reslice(test, 128)
    if args.smoke:
        train, test, args.steps = train[:8, :, :48], test[:8, :, :48], 2
    noisy_train = simulate(train, NOISE, NOISE_SEEDS["train"])
    noisy_test = simulate(test, NOISE, NOISE_SEEDS["test"])
    with tempfile.TemporaryDirectory() as tmp:
        model, scores = train_and_score(noisy_train, noisy_test, test, Path(tmp), args.steps, args.smoke)
        plane = test.shape[0] // 2
        noisy_maps, clean_maps = unit_maps(model, noisy_test, plane), unit_maps(model, test, plane)
        units = model.net.units
    png = result_path("papers", "nrrn_attention.png", args.smoke)
    figure(noisy_maps, clean_maps, units, png)
    removed = {  # the sd is the structure a unit subtracts; the mean, a flat offset
        f"{what} of n, unit {u}, {label}": float(getattr(np, what)(maps[f"noise {u}"]))
        for u in range(1, units + 1)
        for what in ("mean", "std")
        for label, maps in (("noisy plane", noisy_maps), ("noise-free plane", clean_maps))
    }
    removed.update(
        {
            f"sd of the final layer's correction (output - running), {label}": float(
                np.std(maps["output"] - maps["running"])
            )
            for label, maps in (("noisy plane", noisy_maps), ("noise-free plane", clean_maps))
        }
    )
    lines = [f"- {k}: {v:.2f} dB" for k, v in scores.items()] + [
        f"- {k}: {v:.4f} (network units)" for k, v in removed.items()
    ]
    body = (
        f"NRRN defaults ({units} unit), {args.steps} steps of batch 4 on 24 px patches of the re-sliced ISBI EM train "
        f"volume (Poisson peak 8); scored on the 128 central X-planes of the re-sliced test volume (PSNR against the "
        f"clean planes, no normalisation); maps of test plane {plane}.\n\n"
        + "\n".join(lines)
        + f"\n\n![maps]({png.name})"
    )
    write_result(
        "papers",
        "nrrn_attention.md",
        "NRRN's noise attention: what a building unit subtracts from noisy and noise-free planes",
        body,
        smoke=args.smoke,
        seeds="training 0; noise: train 0, test 2",
        budget=f"{args.steps} steps of batch 4",
        tuned="ISBI EM train volume (re-sliced)",
        scored="ISBI EM test volume (re-sliced), a different volume",
    )


if __name__ == "__main__":
    main()
