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
) -> None:
    """Write a PNG grid: one row per plane, one column per named ``ZYX`` stack.

    All images of a row share the grey levels of ``reference`` (its 0.5–99.5 percentiles), so
    brightness differences are real, not display artefacts.
    """
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
