"""Self-contained HTML pages: a denoising run (``noise2stack report``) and a comparison table.

A page is one file: every picture is a PNG embedded as a base64 ``data:`` URI and the style sheet is
inline, so it opens anywhere (e-mail, an offline laptop) and links to nothing. Numbers printed on the
page are the ones :func:`noise2stack.api.evaluate` returns, rounded as printed (PSNR 2 decimals, SSIM
and NRMSE 4).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from noise2stack.methods.advice import chooses_neighbors
from noise2stack.metrics.stack_analysis import CORRELATED_IN_PLANE, CORRELATED_NOISE
from noise2stack.metrics.temporal import delta_f_over_f, find_regions, region_traces, temporal_snr
from noise2stack.model import package_version
from noise2stack.plots import image_panel

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.meta { color: #555; font-size: 0.9em; } .advice { background: #f5f9ff; border-left: 4px solid #4a7bd0; padding: 0.5em 0.8em; }
details { margin: 0.5em 0; } .figs { display: flex; flex-wrap: wrap; gap: 0.5em; } .figs img { max-width: 49%; }
"""


def png_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def img(png: bytes, alt: str) -> str:
    return f'<img src="{png_uri(png)}" alt="{html.escape(alt)}">'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str = "") -> str:
    """An HTML table; cells are escaped text."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def panel_png(columns: dict[str, np.ndarray], planes: Sequence[int], reference: str) -> bytes:
    """The house image grid (:func:`noise2stack.plots.image_panel`) as PNG bytes."""

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.png"
        image_panel(path, columns, planes, reference=reference)
        return path.read_bytes()


def crop_box(shape: tuple[int, int], side: int = 96) -> tuple[slice, slice]:
    """A central square of at most ``side`` pixels, a quarter of the plane where that is smaller."""
    height, width = shape
    side = max(8, min(side, height // 2 or height, width // 2 or width))
    side = min(side, height, width)
    y0, x0 = (height - side) // 2, (width - side) // 2
    return slice(y0, y0 + side), slice(x0, x0 + side)


def read_training_log(path: Path) -> dict[str, list[float]]:
    """Columns of ``training_log.csv`` as float lists (NaN where a value is missing)."""
    columns: dict[str, list[float]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = math.nan
                columns.setdefault(key, []).append(number)
    return columns


def curves_png(log: dict[str, list[float]]) -> bytes:
    """Training and validation loss per epoch (log scale when all positive)."""
    fig = Figure(figsize=(6, 3.4))
    ax = fig.subplots()
    epochs = [e + 1 for e in log.get("epoch", [])]
    for key, label in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        values = log.get(key, [])
        if values and any(math.isfinite(v) for v in values):
            ax.plot(epochs, values, marker="o", ms=3, label=label)
    finite = [v for k in ("train_loss", "val_loss") for v in log.get(k, []) if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) > 10 * min(finite):  # log scale only where it helps
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_png(fig)


def analysis_png(analysis: dict) -> bytes:
    """Paper 000 Figure 1 and the noise: predictability vs distance, noise correlation between planes,
    noise fit, noise autocorrelation within planes."""
    fig = Figure(figsize=(16, 3.4))
    axes = fig.subplots(1, 4)
    pred, raw = analysis["neighbor_predictability_db"], analysis["neighbor_predictability_raw_db"]
    distances = [int(d) for d in pred if pred[d] is not None]
    ax = axes[0]
    if distances:
        ax.plot(distances, [pred[str(d)] for d in distances], "o-", label="noise-corrected")
        ax.plot(distances, [raw[str(d)] for d in distances if raw[str(d)] is not None], "s--", label="raw", alpha=0.7)
        ax.set_xticks(distances)
        ax.legend()
    ax.set_xlabel("distance between planes")
    ax.set_ylabel("predictability (dB)")
    ax.set_title("neighbour predictability")
    ax.grid(alpha=0.3)
    ax = axes[1]
    corr = {int(d): v for d, v in analysis["noise_correlation_by_distance"].items() if v is not None}
    if corr:
        ax.bar(list(corr), list(corr.values()), color="#4a7bd0")
        ax.set_xticks(list(corr))

    ax.axhline(CORRELATED_NOISE, color="#c33", ls="--", lw=1, label=f"too correlated ({CORRELATED_NOISE})")
    ax.set_ylim(min(-0.1, *corr.values()) if corr else -0.1, 1)
    ax.set_xlabel("distance between planes")
    ax.set_ylabel("noise correlation")
    ax.set_title("noise correlation between planes")
    ax.legend(fontsize=8)
    ax = axes[2]
    bins = np.array(analysis.get("noise_bins") or [], dtype=np.float64).reshape(-1, 3)
    noise = analysis["noise"]
    if len(bins):
        ax.scatter(bins[:, 0], bins[:, 1], s=6, alpha=0.4, label="intensity bins")
        if noise["gain"] is not None:
            x = np.linspace(bins[:, 0].min(), bins[:, 0].max(), 50)
            fit = "fits" if noise["fits"] else "does not fit"
            ax.plot(
                x,
                noise["gain"] * x + noise["read_noise_variance"],
                "r-",
                label=f"gain {noise['gain']:.3g}, read {noise['read_noise_variance']:.3g} ({fit})",
            )
        ax.legend(fontsize=8)
    ax.set_xlabel("local mean intensity")
    ax.set_ylabel("noise variance")
    ax.set_title("Poisson-Gaussian noise fit")
    ax.grid(alpha=0.3)
    _autocorrelation_panel(axes[3], analysis.get("noise_autocorrelation") or {})
    fig.tight_layout()
    return figure_png(fig)


def _autocorrelation_panel(ax, autocorrelation: dict) -> None:
    """Noise autocorrelation within planes along Y and X against the lag, and the line-mask threshold."""
    for axis, marker in (("y", "o-"), ("x", "s-")):
        values = {int(d): r for d, r in autocorrelation.get(axis, {}).items() if r is not None}
        if values:
            ax.plot(list(values), list(values.values()), marker, label=f"along {axis.upper()}")
            ax.set_xticks(list(values))
    ax.axhline(CORRELATED_IN_PLANE, color="#c33", ls="--", lw=1, label=f"line blind spot ({CORRELATED_IN_PLANE})")
    ax.axhline(0, color="#888", lw=0.5)
    ax.set_ylim(-0.2, 1)
    ax.set_xlabel("lag (pixels)")
    ax.set_ylabel("noise autocorrelation")
    ax.set_title("noise correlation within planes")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def per_plane_png(metrics: dict[str, dict]) -> bytes:
    """Paper 000 Figure 5: PSNR and SSIM per plane for each named stack."""
    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 2)
    for name, result in metrics.items():
        planes = [p["plane"] for p in result["per_plane"]]
        axes[0].plot(planes, [p["psnr"] for p in result["per_plane"]], marker=".", label=name)
        axes[1].plot(planes, [p["ssim"] for p in result["per_plane"]], marker=".", label=name)
    for ax, what in zip(axes, ("PSNR (dB)", "SSIM")):
        ax.set_xlabel("plane")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return figure_png(fig)


def example_planes(n_planes: int, count: int = 3) -> list[int]:
    """Up to ``count`` evenly spread planes, away from the ends where there are enough."""
    if n_planes <= count:
        return list(range(n_planes))
    return sorted({int(round(v)) for v in np.linspace(0, n_planes - 1, count + 2)[1:-1]})


def model_report_html(
    *,
    model,
    noisy: np.ndarray,
    denoised: np.ndarray,
    reference: np.ndarray | None,
    metrics: dict[str, dict] | None,
    analysis: dict,
    log: dict[str, list[float]] | None,
    names: dict[str, str],
    temporal: dict | None = None,
) -> str:
    """The HTML of ``noise2stack report`` (see :func:`noise2stack.api.report`).

    ``temporal``: a time-lapse's fidelity along T (``evaluate``'s ``temporal`` section), or None.
    ``metrics``: ``{"noisy": evaluate(...), "denoised": evaluate(...)}`` against the reference, or None.
    ``names``: what to call the inputs on the page (``model``, ``noisy``, ``denoised``, ``reference``).
    """
    parts = [f"<h1>noise2stack report: {html.escape(Path(names['noisy']).name)}</h1>"]
    parts.append(_meta(model, noisy, reference, log, names))
    if metrics is not None:
        parts.extend(_quality_section(metrics))
    parts.extend(_pictures_section(noisy, denoised, reference))
    if temporal is not None:
        parts.extend(_temporal_section(temporal, noisy, denoised, reference))
    parts.append("<h2>Training</h2>")
    if log and log.get("epoch"):
        parts.append(img(curves_png(log), "training and validation loss"))
    else:
        parts.append("<p>The model folder has no training log.</p>")
    parts.append("<h2>What the noisy stack says (<code>noise2stack analyze</code>)</h2>")
    if "error" in analysis:
        parts.append(f"<p>Not available: {html.escape(analysis['error'])}</p>")
    else:
        parts.extend(_analysis_section(analysis))
    if metrics is not None:
        parts.extend(_per_plane_section(metrics))
    return page(f"noise2stack report: {Path(names['noisy']).name}", "\n".join(parts))


def _temporal_section(
    temporal: dict, noisy: np.ndarray, denoised: np.ndarray, reference: np.ndarray | None
) -> list[str]:
    """A time-lapse along T: tSNR, ΔF/F trace correlation, the residual's whiteness; tSNR maps and traces."""
    rows = [
        ["tSNR (median over pixels)", *[f"{temporal['tsnr'].get(k, float('nan')):.2f}" for k in ("noisy", "denoised")]]
    ]
    traces = temporal.get("trace_correlation")
    if traces is not None:
        rows.append(
            [f"ΔF/F correlation with the reference ({traces['regions']} regions, median)"]
            + [("n/a" if traces.get(k) is None else f"{traces[k]:.3f}") for k in ("noisy", "denoised")]
        )
    white = temporal.get("residual_whiteness", {})
    text = ", ".join(f"{k.upper()} {v:.3f}" for k, v in white.items())
    return [
        "<h2>Along time</h2>",
        table(["", "noisy", "denoised"], rows, "temporal"),
        f"<p>Residual noisy − denoised, lag-1 autocorrelation: {html.escape(text)} (about 0: only noise was "
        "removed; positive: the denoiser took signal too).</p>",
        img(temporal_png(noisy, denoised, reference), "tSNR maps and ΔF/F traces of the brightest regions"),
    ]


def temporal_png(noisy: np.ndarray, denoised: np.ndarray, reference: np.ndarray | None, count: int = 3) -> bytes:
    """tSNR maps of the noisy and the denoised movie, and the ΔF/F traces of up to ``count`` regions."""
    fig = Figure(figsize=(14, 3.4))
    axes = fig.subplots(1, 2 + count)
    for ax, (name, stack) in zip(axes, (("noisy", noisy), ("denoised", denoised))):
        tsnr = temporal_snr(stack)
        shown = ax.imshow(np.where(np.isfinite(tsnr), tsnr, np.nan), cmap="magma")
        fig.colorbar(shown, ax=ax, fraction=0.046)
        ax.set_title(f"tSNR, {name}")
        ax.axis("off")
    regions = find_regions((reference if reference is not None else denoised).mean(axis=0))
    movies = {"noisy": noisy, "denoised": denoised} | ({"reference": reference} if reference is not None else {})
    traces = {name: delta_f_over_f(region_traces(movie, regions)) for name, movie in movies.items()}
    for k, ax in enumerate(axes[2:]):
        if k < regions.max():
            for name, values in traces.items():
                ax.plot(values[k], lw=0.8, label=name, alpha=0.8 if name == "noisy" else 1.0)
            ax.legend(fontsize=7)
        ax.set_title(f"region {k + 1}: ΔF/F")
        ax.set_xlabel("frame")
    fig.tight_layout()
    return figure_png(fig)


def _meta(model, noisy: np.ndarray, reference: np.ndarray | None, log: dict | None, names: dict[str, str]) -> str:
    """The line under the title: the model and how it was trained, the inputs, the package version."""

    config = model.config
    esc = html.escape
    epochs = len(log["epoch"]) if log and log.get("epoch") else None
    return (
        '<p class="meta">'
        f"model <code>{esc(names['model'])}</code>: method <b>{esc(config.method)}</b>, mode {esc(config.algorithm.mode)}, "
        f"{config.algorithm.neighbors} neighbour plane(s), net {esc(config.algorithm.net)}"
        + (f", {epochs} epoch(s) trained" if epochs else "")
        + f"<br>noisy stack <code>{esc(names['noisy'])}</code>, {' x '.join(map(str, noisy.shape))} (ZYX); "
        f"denoised: <code>{esc(names['denoised'])}</code>"
        + (f"<br>reference <code>{esc(names['reference'])}</code>" if reference is not None else "")
        + f"<br>noise2stack {esc(package_version())}</p>"
    )


def _quality_section(metrics: dict[str, dict]) -> list[str]:
    """Mean PSNR, SSIM and NRMSE of the noisy and the denoised stack against the reference."""
    rows = [
        [name.capitalize(), f"{m['psnr']:.2f}", f"{m['ssim']:.4f}", f"{m['nrmse']:.4f}"] for name, m in metrics.items()
    ]
    return [
        "<h2>Quality against the reference</h2>",
        f'<p>Mean PSNR of the denoised stack: <b id="mean-psnr">{metrics["denoised"]["psnr"]:.2f}</b> dB '
        f'(noisy: <span id="noisy-psnr">{metrics["noisy"]["psnr"]:.2f}</span> dB), mean SSIM '
        f'<b id="mean-ssim">{metrics["denoised"]["ssim"]:.4f}</b>; normalisation '
        f"<code>{html.escape(metrics['denoised']['normalize'])}</code>.</p>",
        table(["stack", "PSNR (dB)", "SSIM", "NRMSE"], rows, "summary"),
    ]


def _pictures_section(noisy: np.ndarray, denoised: np.ndarray, reference: np.ndarray | None) -> list[str]:
    """A few planes before and after, and a zoomed central crop of the middle one, in shared grey levels."""
    planes = example_planes(noisy.shape[0])
    columns = {"Noisy": noisy, "Denoised": denoised}
    if reference is not None:
        columns["Reference"] = reference
    grey_reference = "Reference" if reference is not None else "Noisy"
    rows_slice, cols_slice = crop_box(noisy.shape[1:])
    middle = [planes[len(planes) // 2]]
    crops = {k: v[:, rows_slice, cols_slice] for k, v in columns.items()}
    return [
        "<h2>Before and after</h2><p>Every image of a row shares the grey levels of the "
        f"{grey_reference.lower()} plane (0.5-99.5 percentiles).</p>",
        img(panel_png(columns, planes, grey_reference), "noisy and denoised planes"),
        f"<h2>Zoomed crops</h2><p>Central {rows_slice.stop - rows_slice.start} x "
        f"{cols_slice.stop - cols_slice.start} pixels (rows {rows_slice.start}-{rows_slice.stop - 1}, "
        f"columns {cols_slice.start}-{cols_slice.stop - 1}) of plane {middle[0]}.</p>",
        img(panel_png(crops, middle, grey_reference), "zoomed crops"),
    ]


def _per_plane_section(metrics: dict[str, dict]) -> list[str]:
    """PSNR and SSIM per plane: the plot, and the numbers in a folded table."""
    noisy_planes, den_planes = metrics["noisy"]["per_plane"], metrics["denoised"]["per_plane"]
    rows = [
        [str(n["plane"]), f"{n['psnr']:.2f}", f"{d['psnr']:.2f}", f"{n['ssim']:.4f}", f"{d['ssim']:.4f}"]
        for n, d in zip(noisy_planes, den_planes)
    ]
    return [
        "<h2>Per plane</h2>",
        img(per_plane_png(metrics), "PSNR and SSIM per plane"),
        "<details><summary>Table: PSNR and SSIM per plane</summary>"
        + table(["plane", "noisy PSNR", "denoised PSNR", "noisy SSIM", "denoised SSIM"], rows, "per-plane")
        + "</details>",
    ]


def _analysis_section(analysis: dict) -> list[str]:
    """The advice of ``noise2stack analyze`` and the measurements it rests on."""

    esc = html.escape
    parts = []
    rec = analysis["recommendation"]
    pred = analysis["neighbor_predictability_db"]
    rho = analysis["noise_correlation"]
    parts.append(
        '<p class="advice">Recommendation: <b>'
        + esc(
            f"{rec['method']} {rec['mode']}"
            + (f", {rec['neighbors']} neighbours" if chooses_neighbors(rec["method"]) else "")
        )
        + f"</b>: {esc(rec['reason'])}</p>"
    )
    parts.append(
        table(
            ["measure", "value"],
            [
                [f"neighbour predictability, distance {d} (dB)", "n/a" if v is None else f"{v:.1f}"]
                for d, v in pred.items()
            ]
            + [
                ["noise correlation between neighbouring planes", "n/a" if rho is None else f"{rho:.2f}"],
                ["noise variance (image units²)", f"{analysis['noise']['variance']:.4g}"],
            ],
            "analysis",
        )
    )
    parts.append(img(analysis_png(analysis), "neighbour predictability, noise correlation and noise fit"))

    return parts


def comparison_html(table_rows: dict, title: str, caption: str, panel: bytes, per_plane: bytes) -> str:
    """The page ``compare`` writes beside ``comparison.md``: the table, paper 000 Figure 4 and 5, the panel."""
    labels = list(table_rows)
    fig = Figure(figsize=(7, 0.35 * len(labels) + 1.2))
    ax = fig.subplots()
    values = [table_rows[k]["psnr"] for k in labels]
    colors = ["#4a7bd0" if k.startswith("Noise2Stack") else "#999" for k in labels]
    ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        ax.set_xlim(min(finite) - 1, max(finite) + 1)
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel("mean PSNR (dB)")
    ax.set_title("methods and neighbour counts (Noise2Stack in blue)")
    fig.tight_layout()
    bars = figure_png(fig)
    rows = [
        [
            label,
            f"{r['psnr']:.2f}",
            f"{r['ssim']:.3f}",
            f"{r['nrmse']:.3f}",
            f"{r['train_s']:.0f}",
            f"{r['predict_s']:.1f}",
        ]
        for label, r in table_rows.items()
    ]
    body = "\n".join(
        [
            f"<h1>{html.escape(title or 'Method comparison')}</h1>",
            f'<p class="meta">{html.escape(caption)}</p>',
            table(["method", "PSNR (dB)", "SSIM", "NRMSE", "training (s)", "prediction (s)"], rows, "comparison"),
            "<h2>Mean PSNR per method</h2>",
            img(bars, "mean PSNR per method"),
            "<h2>PSNR per plane</h2>",
            img(per_plane, "PSNR per plane"),
            "<h2>The same crop of the middle plane</h2>",
            img(panel, "crops of every method"),
        ]
    )
    return page(title or "Method comparison", body)
