"""Pictures a person would rather look at than read: image panels."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from noise2stack.io.atomic import atomic_path


def _grid(
    path: str | os.PathLike, cells: Sequence[Sequence[tuple[str, np.ndarray] | None]], ranges: list[tuple[float, float]]
) -> None:
    """Draw rows of (title, image) cells, row ``r`` with grey range ``ranges[r]``; write a PNG atomically."""

    n_rows, n_cols = len(cells), max(len(row) for row in cells)
    fig = Figure(figsize=(2.8 * n_cols, 2.9 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(cells):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            cell = row[c] if c < len(row) else None
            if cell is not None:
                title, image = cell
                ax.imshow(image, cmap="gray", vmin=ranges[r][0], vmax=ranges[r][1], interpolation="nearest")
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def image_panel(
    path: str | os.PathLike,
    columns: dict[str, np.ndarray],
    planes: Sequence[int],
    titles: dict[str, str] | None = None,
    reference: str | None = None,
    columns_per_row: int | None = None,
) -> None:
    """Write a PNG grid: one row per plane, one column per named ``ZYX`` stack.

    All images of a plane share the grey levels of ``reference`` (its 0.5–99.5 percentiles), so
    brightness differences are real, not display artefacts. With a single plane and
    ``columns_per_row``, the stacks wrap onto several rows.
    """
    titles = titles or {}
    names = list(columns)
    ref = columns[reference or names[-1]]
    if columns_per_row and len(planes) == 1:
        z = planes[0]
        chunks = [names[i : i + columns_per_row] for i in range(0, len(names), columns_per_row)]
        cells = [[(titles.get(n, n), columns[n][z]) for n in chunk] for chunk in chunks]
        ranges = [tuple(np.percentile(ref[z], (0.5, 99.5)))] * len(cells)
    else:
        cells = [
            [(f"{titles.get(n, n)}\nplane {z}" if r == 0 else f"plane {z}", columns[n][z]) for n in names]
            for r, z in enumerate(planes)
        ]
        ranges = [tuple(np.percentile(ref[z], (0.5, 99.5))) for z in planes]
    _grid(path, cells, ranges)
