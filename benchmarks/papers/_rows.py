"""Shared runner of the paper-table scripts (papers.em_nrrn_tables, papers.fluo_n2sr_table); not a script.

One row = one method trained on a noisy training stack under a budget (or a filter), scored on a
noisy test stack against its clean version. The budget is a number of optimisation steps: steps make
a table independent of how loaded the machine is while it runs; a row whose steps cost more (NRRN)
gets the steps that take the same time on an idle machine (``Row.steps``, measured).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.harness import NOISE_SEEDS, simulate, step_schedule, steps_done
from noise2stack import api


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


@dataclass
class Stacks:
    """The clean and noisy stacks of one table cell."""

    train_clean: np.ndarray
    train: np.ndarray
    copy: np.ndarray
    test_clean: np.ndarray
    test: np.ndarray


def noisy_stacks(train_clean: np.ndarray, test_clean: np.ndarray, noise: dict) -> Stacks:
    """Training stack, its independent copy and the test stack with the noise seeds of the harness."""
    return Stacks(
        train_clean,
        simulate(train_clean, noise, NOISE_SEEDS["train"]),
        simulate(train_clean, noise, NOISE_SEEDS["copy"]),
        test_clean,
        simulate(test_clean, noise, NOISE_SEEDS["test"]),
    )


def predict_row(row: Row, stacks: Stacks, schedule: dict, patch: int, tmp: Path) -> tuple[np.ndarray, int]:
    """(the row's prediction of the test stack, the optimisation steps its training took)."""
    if row.method == "input":
        return stacks.test, 0
    if row.filter:
        return api.denoise(stacks.test, None, row.method, progress=False, **row.options), 0
    targets = {"clean": [stacks.train_clean], "copy": [stacks.copy]}.get(row.needs)
    folder = tmp / row.label.replace(" ", "_")
    options = {"method": row.method, "seed": 0, "patch": patch, **row.options, **schedule}
    model = api.train(stacks.train, folder, targets=targets, progress=False, **options)
    return api.predict(model, stacks.test, progress=False), steps_done(folder)


def run_rows(rows, train_clean, test_clean, noise: dict, steps: int, patch: int = 64, smoke: bool = False) -> dict:
    """PSNR/SSIM (``api.evaluate``, no normalisation) of every row; the same budget for every trained row.

    ``steps``: optimisation steps per trained row (a row's own ``steps`` win). ``smoke``: two tiny steps
    per trained row instead (checks the pipeline only). A row's ``options`` may set its own batch;
    the steps stay the same. Each result holds ``psnr``, ``ssim``, ``seconds`` (training + prediction)
    and ``steps``.
    """
    stacks = noisy_stacks(train_clean, test_clean, noise)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            t0 = time.perf_counter()
            schedule = {"epochs": 1, "steps_per_epoch": 2, "batch": 2} if smoke else step_schedule(row.steps or steps)
            pred, done = predict_row(row, stacks, schedule, patch, Path(tmp))
            metrics = api.evaluate(pred, test_clean, normalize="none")
            seconds = time.perf_counter() - t0
            results[row.label] = {"psnr": metrics["psnr"], "ssim": metrics["ssim"], "seconds": seconds, "steps": done}
            print(f"[{noise}] {row.label}: {metrics['psnr']:.2f} dB, {done} steps, {seconds:.0f} s", flush=True)
    return results


def reslice(volume: np.ndarray, planes: int | None = None) -> np.ndarray:
    """(Z, Y, X) -> (X, Z, Y): ISBI EM as X-planes 4 nm apart; ``planes`` central X-planes of the central
    256 Y (the test crop of papers.em_nrrn_tables and papers.nrrn_defaults)."""
    out = np.moveaxis(volume, 2, 0)
    if planes is not None:
        x0, y0 = (out.shape[0] - planes) // 2, (out.shape[2] - 256) // 2
        out = out[x0 : x0 + planes, :, y0 : y0 + 256]
    return np.ascontiguousarray(out)
