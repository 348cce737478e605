"""Shared runner of the paper-table scripts (em_nrrn_tables.py, fluo_n2sr_table.py): one row = one
method trained on a noisy training stack under a wall-clock budget (or a filter), scored on a noisy
test stack against its clean version."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noise2stack import api
from noise2stack.noise import add_noise


@dataclass
class Row:
    label: str
    method: str  # a training method, a filter of `noise2stack denoise`, or "input"
    options: dict = field(default_factory=dict)
    needs: str = ""  # "clean" (Noise2Clean) or "copy" (Noise2Noise): the training target
    filter: bool = False


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def run_rows(rows, train_clean, test_clean, noise: dict, budget: float | None, seed: int = 0, patch: int = 64, smoke: bool = False) -> dict:
    """PSNR/SSIM (``api.evaluate``, no normalisation) of every row; the same budget for every trained row.

    ``smoke``: two tiny steps per trained row instead of the budget (checks the pipeline only).
    """
    schedule = {"epochs": 1, "steps_per_epoch": 2, "batch": 2} if smoke else {"max_time": budget}
    train_noisy = add_noise(train_clean, seed=seed, **noise)
    train_copy = add_noise(train_clean, seed=seed + 1, **noise)
    test_noisy = add_noise(test_clean, seed=seed + 2, **noise)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            t0 = time.perf_counter()
            if row.method == "input":
                pred = test_noisy
            elif row.filter:
                pred = api.denoise(test_noisy, None, row.method, progress=False, **row.options)
            else:
                targets = {"clean": [train_clean], "copy": [train_copy]}.get(row.needs)
                model = api.train(
                    train_noisy, Path(tmp) / row.label.replace(" ", "_"), targets=targets, progress=False,
                    method=row.method, seed=seed, patch=patch, **schedule, **row.options,
                )
                pred = api.predict(model, test_noisy, progress=False)
            metrics = api.evaluate(pred, test_clean, normalize="none")
            results[row.label] = {"psnr": metrics["psnr"], "ssim": metrics["ssim"], "seconds": time.perf_counter() - t0}
            print(f"[{noise}] {row.label}: {metrics['psnr']:.2f} dB", flush=True)
    return results


def crop(stack: np.ndarray, planes: int, side: int) -> np.ndarray:
    """The central ``planes x side x side`` block (smoke runs)."""
    z0, y0, x0 = ((n - m) // 2 for n, m in zip(stack.shape, (planes, side, side)))
    return np.ascontiguousarray(stack[z0 : z0 + planes, y0 : y0 + side, x0 : x0 + side])
