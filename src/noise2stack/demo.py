"""``noise2stack demo``: the main job on the example stack that ships with the package.

Adds Poisson–Gaussian noise to the Arabidopsis embryo stack (treated as clean), trains Noise2Stack
self-supervised on the noisy copy alone (about two minutes on two CPU cores), denoises it, and
writes the noisy/denoised stacks, the model folder, ``metrics.json`` and ``panel.png``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from noise2stack import __version__, api
from noise2stack.config import make_config
from noise2stack.io.atomic import write_json
from noise2stack.io.stacks import read_stack, write_stack
from noise2stack.model import Model
from noise2stack.noise import add_noise
from noise2stack.plots import image_panel
from noise2stack.progress import ProgressLog

EXAMPLE = "arabidopsis_embryo_zyx.tif"
NOISE: dict[str, Any] = {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 8.0, "seed": 0}


def example_stack() -> np.ndarray:
    """The shipped example stack, ZYX (106, 112, 109) uint8 (CC-BY 4.0, see examples/README.md)."""
    with resources.as_file(resources.files("noise2stack.examples") / EXAMPLE) as path:
        return read_stack(path, "ZYX")


def run_demo(
    out: str | os.PathLike = "demo_output", max_time: float = 110.0, progress: bool | ProgressLog = True
) -> dict:
    """Run the demo and return its metrics (also written to ``out/metrics.json``).

    ``progress``: True, a bar; a :class:`~noise2stack.progress.ProgressLog`, what its mode says (the
    command line gives one: a bar on a terminal, one line per epoch otherwise).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean = example_stack().astype(np.float32)
    noisy = add_noise(clean, **NOISE)
    write_stack(out / "noisy.tif", noisy)
    method = make_config().method  # the default method (Noise2Stack), self-supervised on the noisy copy alone
    model = api.train(
        noisy,
        out / "model",
        overwrite=True,
        progress=progress,
        method=method,
        mode="self",
        neighbors=2,
        max_time=max_time,
        seed=0,
    )
    assert isinstance(model, Model)  # a stack without channels: one model
    denoised = api.predict(model, noisy, out / "denoised.tif", overwrite=True, progress=progress)
    before = api.evaluate(noisy, clean)
    after = api.evaluate(denoised, clean)
    metrics = {
        "noise2stack": __version__,
        "seed": model.config.training.seed,
        "model_sha256": model.checksum(),
        "data": f"noise2stack/examples/{EXAMPLE} (treated as clean) + {NOISE}",
        "method": f"{method} self, 2 neighbours",
        "epochs": model.config.training.epochs,
        "noisy": {k: before[k] for k in ("psnr", "ssim", "nrmse")},
        "denoised": {k: after[k] for k in ("psnr", "ssim", "nrmse")},
        "per_plane_psnr": {
            "noisy": [p["psnr"] for p in before["per_plane"]],
            "denoised": [p["psnr"] for p in after["per_plane"]],
        },
    }
    write_json(out / "metrics.json", metrics)
    planes = [clean.shape[0] // 4, clean.shape[0] // 2, 3 * clean.shape[0] // 4]
    image_panel(
        out / "panel.png",
        {"noisy": noisy, "denoised": denoised, "clean": clean},
        planes,
        titles={
            "noisy": f"noisy {before['psnr']:.1f} dB",
            "denoised": f"Noise2Stack {after['psnr']:.1f} dB",
            "clean": "clean",
        },
        reference="clean",
    )
    return metrics
