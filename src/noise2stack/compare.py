"""Run several methods on one dataset under one budget and tabulate them (paper 000, Table 1).

With a clean stack and a noise model, two independent noisy copies are simulated so that the
Noise2Noise and copy-supervised rows exist; Noise2Clean trains on (copy A, clean). Every trainable
method gets the same wall-clock budget; all are scored on copy A against the clean stack. The
trained rows are the ones each method declares (``Method.compare_rows``), after the classical filters.
Writes ``comparison.md``, ``results.json``, ``panel.png`` (the same crop of one plane for every
method), ``psnr_per_plane.png`` (paper Figure 5B) and ``comparison.html`` (all of it on one
self-contained page, with the mean PSNR per method: paper Figure 4 for the neighbour counts).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from noise2stack.config import flat_names
from noise2stack.errors import Noise2StackError
from noise2stack.filters import denoise_stack
from noise2stack.io.atomic import atomic_path, write_json, write_text
from noise2stack.methods import METHODS
from noise2stack.metrics import evaluate_stack
from noise2stack.model import Model
from noise2stack.noise import add_noise
from noise2stack.plots import image_panel
from noise2stack.predict.engine import predict_array
from noise2stack.report import comparison_html
from noise2stack.train.start import train_model

OUTPUT_FILES = ("comparison.md", "results.json", "panel.png", "psnr_per_plane.png", "comparison.html")


@dataclass
class Row:
    """One row of the comparison: a method to train (with its options), or a filter to run."""

    label: str
    method: str
    options: dict = field(default_factory=dict)
    needs: str = ""  # "copy" or "clean": the second noisy copy or the clean stack is the target
    filter: bool = False


#: The classical filters (:func:`noise2stack.api.denoise`), before the trained rows.
FILTER_ROWS = [Row("BM3D", "bm3d", filter=True), Row("Non-local means", "nlm", filter=True)]


def trained_rows() -> list[Row]:
    """The rows the methods declare (``Method.compare_rows``), by their ``position``, ties in registry order.

    The positions keep paper 000's Table 1 order (Noise2Clean, Noise2Void, Noise2Noise,
    Noise2Stack) with the methods added later after it.
    """
    declared = [(row, name) for name, method in METHODS.items() for row in method.compare_rows]
    ordered = sorted(declared, key=lambda pair: pair[0].position)  # stable: ties keep registry order
    return [Row(row.label, name, dict(row.options), row.needs) for row, name in ordered]


ROWS = FILTER_ROWS + trained_rows()


def _available(row: Row) -> bool:
    """BM3D is an optional extra: its row is left out when the package is missing."""
    if row.method == "bm3d":
        try:
            import bm3d  # noqa: F401
        except ImportError:
            return False
    return True


def _select(methods: list[str] | None) -> list[Row]:
    """The rows to run: those labelled in ``methods`` (all by default) that this installation has."""
    if methods is not None:
        unknown = set(methods) - {r.label for r in ROWS}
        if unknown:
            raise Noise2StackError(f"unknown rows {sorted(unknown)}; choose from {[r.label for r in ROWS]}")
    return [r for r in ROWS if _available(r) and (methods is None or r.label in methods)]


def compare(
    clean: np.ndarray,
    out_dir: str | os.PathLike,
    noise: dict,
    budget: float = 300.0,
    seed: int = 0,
    methods: list[str] | None = None,
    normalize: str = "care",
    progress: bool = True,
    title: str = "",
    train_options: dict | None = None,
) -> dict:
    """Compare denoising methods on ``clean`` (ZYX) with simulated noise.

    Parameters
    ----------
    clean : ndarray, shape (Z, Y, X)
    out_dir : path
        Folder for the table, JSON and pictures (created).
    noise : dict
        :func:`noise2stack.noise.add_noise` keywords (``noise``, ``sigma``, ``peak``).
    budget : float
        Training seconds for every trainable method.
    methods : list of str, optional
        Row labels to run (default: all that the data allows).
    normalize : {"care", "none"}
        Metric normalisation (CARE percentile + affine, as the paper does for microscopy).
    train_options : dict, optional
        Training options for every trained row; a row's own options take precedence.
    """
    rows = _select(methods)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    noisy = add_noise(clean, seed=seed, **noise)
    copy = add_noise(clean, seed=seed + 1, **noise)
    patch = int(min(64, min(clean.shape[1:]) // 4 * 4))
    mid = clean.shape[0] // 2
    planes = {"Clean": clean[mid]}

    def record(label: str, stack: np.ndarray, train_s: float, predict_s: float) -> None:
        planes[label] = stack[mid]  # only the panel's plane is kept, not every stack
        results[label] = {
            "metrics": evaluate_stack(stack, clean, normalize),  # type: ignore[arg-type]  # api.compare checked it
            "train_s": train_s,
            "predict_s": predict_s,
        }
        if progress:
            print(f"[compare] {label}: PSNR {results[label]['metrics']['psnr']:.2f} dB", flush=True)

    results: dict = {}
    record("Input", noisy, 0.0, 0.0)
    training: dict[str, Any] = {"budget": budget, "seed": seed, "patch": patch, "train_options": train_options or {}}
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            if row.filter:
                t0 = time.perf_counter()
                stack = denoise_stack(noisy, row.method, progress=False)
                record(row.label, stack, 0.0, time.perf_counter() - t0)
                continue
            targets = {"copy": [copy], "clean": [clean]}.get(row.needs)
            record(row.label, *_train_and_predict(row, noisy, targets, Path(tmp), **training))
    return _write(out, results, planes, budget, noise, normalize, title, train_options)


def _train_and_predict(
    row: Row, noisy: np.ndarray, targets, tmp: Path, *, budget: float, seed: int, patch: int, train_options: dict
) -> tuple[np.ndarray, float, float]:
    """Train ``row``'s method on ``noisy`` within ``budget`` seconds and predict: (stack, train s, predict s)."""
    t0 = time.perf_counter()
    options = {"method": row.method, "max_time": budget, "seed": seed, "patch": patch}
    options.update({**_options_of(row.method, train_options), **row.options})
    model = train_model(noisy, tmp / row.label.replace(" ", "_"), targets=targets, progress=False, options=options)
    assert isinstance(model, Model)  # one stack without channels: one model
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    stack = predict_array(model, noisy)
    return stack, train_s, time.perf_counter() - t0


def _options_of(method: str, options: dict) -> dict:
    """The shared training options a row's method takes (a blind-spot fraction means nothing to NRRN)."""
    return {k: v for k, v in options.items() if k in flat_names(method)}


def _write(out: Path, results: dict, planes: dict, budget, noise, normalize, title, train_options=None) -> dict:
    header = "| method | PSNR (dB) | SSIM | NRMSE | training (s) | prediction (s) |\n|---|---|---|---|---|---|\n"
    lines = []
    table = {}
    for label, r in results.items():
        m = r["metrics"]
        table[label] = {k: m[k] for k in ("psnr", "ssim", "nrmse")} | {
            "train_s": round(r["train_s"], 1),
            "predict_s": round(r["predict_s"], 2),
            "per_plane_psnr": [p["psnr"] for p in m["per_plane"]],
        }
        lines.append(
            f"| {label} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['nrmse']:.3f} | {r['train_s']:.0f} | {r['predict_s']:.1f} |"
        )
    text = (
        f"# {title or 'Method comparison'}\n\nNoise: {noise}; metrics against the clean stack, normalisation "
        f"`{normalize}`; training budget {budget:.0f} s wall clock per trainable method (2 CPU cores)"
        f"{f'; training options {train_options}' if train_options else ''}.\n\n" + header + "\n".join(lines) + "\n"
    )
    write_text(out / "comparison.md", text)
    write_json(out / "results.json", table)
    _plot(out, table)
    _panel(out, planes, table)

    caption = text.split("\n\n")[1]
    html_text = comparison_html(
        table, title, caption, (out / "panel.png").read_bytes(), (out / "psnr_per_plane.png").read_bytes()
    )
    write_text(out / "comparison.html", html_text)
    return table


def _panel(out: Path, planes: dict, table: dict) -> None:
    """The same central crop (at most 128 px) of the middle plane for every method, clean last."""

    height, width = planes["Clean"].shape
    side = min(128, height, width)
    y0, x0 = (height - side) // 2, (width - side) // 2
    crops = {k: v[np.newaxis, y0 : y0 + side, x0 : x0 + side] for k, v in planes.items() if k != "Clean"}
    crops["Clean"] = planes["Clean"][np.newaxis, y0 : y0 + side, x0 : x0 + side]
    titles = {k: f"{k}\n{table[k]['psnr']:.2f} dB" for k in table}
    image_panel(out / "panel.png", crops, [0], titles=titles, reference="Clean", columns_per_row=5)


def _plot(out: Path, table: dict) -> None:

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for label, r in table.items():
        ax.plot(r["per_plane_psnr"], label=label, lw=2 if label.startswith("Noise2Stack") else 1)
    ax.set_xlabel("plane")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(out / "psnr_per_plane.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
