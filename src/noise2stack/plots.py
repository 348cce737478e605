"""Pictures a person would rather look at than read: image panels."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from noise2stack.io.atomic import atomic_path


def image_panel(
    path: str | os.PathLike,
    columns: dict[str, np.ndarray],
    planes: Sequence[int],
    titles: dict[str, str] | None = None,
    reference: str | None = None,
    columns_per_row: int | None = None,
) -> None:
    """Write a PNG grid: one row per plane, one column per named ``ZYX`` stack.

    All images of a row share the grey levels of ``reference`` (its 0.5–99.5 percentiles), so
    brightness differences are real, not display artefacts. With a single plane and
    ``columns_per_row``, the stacks wrap onto several rows.
    """
    if columns_per_row and len(planes) == 1 and len(columns) > columns_per_row:
        return _wrapped_panel(path, columns, planes[0], titles or {}, reference, columns_per_row)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(columns)
    fig, axes = plt.subplots(len(planes), len(names), figsize=(3 * len(names), 3 * len(planes)), squeeze=False)
    for r, z in enumerate(planes):
        ref = columns[reference or names[-1]][z]
        vmin, vmax = np.percentile(ref, (0.5, 99.5))
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.imshow(columns[name][z], cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = (titles or {}).get(name, name)
            ax.set_title(f"{label}\nplane {z}" if r == 0 else f"plane {z}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _wrapped_panel(path, columns, plane, titles, reference, per_row) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(columns)
    n_rows = -(-len(names) // per_row)
    fig, axes = plt.subplots(n_rows, per_row, figsize=(2.6 * per_row, 2.9 * n_rows), squeeze=False)
    vmin, vmax = np.percentile(columns[reference or names[-1]][plane], (0.5, 99.5))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        ax.imshow(columns[name][plane], cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(titles.get(name, name), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
