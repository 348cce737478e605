"""Shared pieces of the benchmark scripts: datasets with synthetic noise, Markdown tables."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from noise2stack.io.stacks import read_stack
from noise2stack.noise import add_noise

ROOT = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(os.environ.get("RESULTS_DIR", ROOT / "results"))


@dataclass
class Dataset:
    name: str
    path: str
    noise: dict  # add_noise keyword arguments; sigma as a fraction of the image maximum
    planes: tuple = (None, None)

    def load(self, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(clean, noisy) float32 ZYX stacks."""
        clean = read_stack(SHARED / self.path)[slice(*self.planes)].astype(np.float32)
        kwargs = dict(self.noise)
        if "sigma_frac" in kwargs:
            kwargs["sigma"] = kwargs.pop("sigma_frac") * float(clean.max())
        return clean, add_noise(clean, seed=seed, **kwargs)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.noise.items())


DATASETS = {
    "tribolium": Dataset(
        "Tribolium light-sheet (100x256x256)",
        "fluo_tribolium_lightsheet/tribolium_lund_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    ),
    "cells3d": Dataset(
        "cells3d nucleus crop (60x60x50)",
        "fluo_cells3d_nucleus_crop/cells3d_mitotic_nucleus_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    ),
    "isbi-em": Dataset(
        "ISBI 2012 EM test volume (30x512x512)",
        "em_isbi2012_sstem/test_volume_zyx.tif",
        {"noise": "poisson", "peak": 8.0},
    ),
    "arabidopsis": Dataset(
        "Arabidopsis embryo confocal (106x112x109)",
        "fluo_arabidopsis_embryo_confocal/arabidopsis_embryo_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 8.0},
    ),
}


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    from noise2stack import __version__
    from noise2stack.io.atomic import write_text

    write_text(path, f"# {title}\n\n{stamp}; noise2stack {__version__}; {machine()}.\n\n{body}\n")
    print(f"\nwritten {path}")
    return path
