"""Shared runner of the paper-table scripts (em_nrrn_tables.py, fluo_n2sr_table.py): one row = one
method trained on a noisy training stack under a budget (or a filter), scored on a noisy test stack
against its clean version.

The budget is either wall-clock seconds (``--max-time``) or a number of optimisation steps. Steps
make a table independent of how loaded the machine is while it runs; a row whose steps cost more
(NRRN) gets the steps that take the same time on an idle machine (``Row.steps``, measured).
"""

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
    steps: int | None = None  # this row's own step budget (else the table's)


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def _steps(model_folder: Path) -> int:
    """Optimisation steps a finished training took (the last row of its log)."""
    import csv

    rows = list(csv.DictReader((model_folder / "training_log.csv").open()))
    return int(rows[-1]["step"]) if rows else 0


def step_schedule(steps: int) -> dict:
    """Training options for exactly ``steps`` optimisation steps (epochs of at most 100 steps)."""
    epochs = max(1, -(-steps // 100))
    while steps % epochs:
        epochs += 1
    if epochs > max(1, steps // 10):  # a prime: one epoch
        epochs = 1
    return {"epochs": epochs, "steps_per_epoch": steps // epochs}


def run_rows(
    rows,
    train_clean,
    test_clean,
    noise: dict,
    budget: float | None,
    seed: int = 0,
    patch: int = 64,
    smoke: bool = False,
    steps: int | None = None,
) -> dict:
    """PSNR/SSIM (``api.evaluate``, no normalisation) of every row; the same budget for every trained row.

    ``budget``: seconds per trained row; or ``steps``: optimisation steps per trained row (a row's own
    ``steps`` win). ``smoke``: two tiny steps per trained row instead (checks the pipeline only).
    A row's ``options`` may set its own batch or steps per epoch; the budget stays the same.
    Each result holds ``psnr``, ``ssim``, ``seconds`` (training + prediction) and ``steps``.
    """
    if smoke:
        schedule = {"epochs": 1, "steps_per_epoch": 2, "batch": 2}
    elif steps is None:
        schedule = {"max_time": budget}
    train_noisy = add_noise(train_clean, seed=seed, **noise)
    train_copy = add_noise(train_clean, seed=seed + 1, **noise)
    test_noisy = add_noise(test_clean, seed=seed + 2, **noise)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            t0, done_steps = time.perf_counter(), 0
            if row.method == "input":
                pred = test_noisy
            elif row.filter:
                pred = api.denoise(test_noisy, None, row.method, progress=False, **row.options)
            else:
                targets = {"clean": [train_clean], "copy": [train_copy]}.get(row.needs)
                folder = Path(tmp) / row.label.replace(" ", "_")
                if steps is not None and not smoke:
                    schedule = step_schedule(row.steps or steps)
                options = {"method": row.method, "seed": seed, "patch": patch, **row.options, **schedule}
                model = api.train(train_noisy, folder, targets=targets, progress=False, **options)
                done_steps = _steps(folder)
                pred = api.predict(model, test_noisy, progress=False)
            metrics = api.evaluate(pred, test_clean, normalize="none")
            results[row.label] = {
                "psnr": metrics["psnr"],
                "ssim": metrics["ssim"],
                "seconds": time.perf_counter() - t0,
                "steps": done_steps,
            }
            print(
                f"[{noise}] {row.label}: {metrics['psnr']:.2f} dB, {done_steps} steps, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    return results


def crop(stack: np.ndarray, planes: int, side: int) -> np.ndarray:
    """The central ``planes x side x side`` block (smoke runs)."""
    z0, y0, x0 = ((n - m) // 2 for n, m in zip(stack.shape, (planes, side, side)))
    return np.ascontiguousarray(stack[z0 : z0 + planes, y0 : y0 + side, x0 : x0 + side])
