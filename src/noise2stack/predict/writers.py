"""Where a prediction goes besides the array it returns: files written by
:func:`noise2stack.io.stacks.write_stack` (TIFF, NIfTI, ``.npy``) in the input's axis order, each
with its provenance. Chunked prediction writes OME-Zarr block by block instead
(:mod:`noise2stack.predict.chunked`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from noise2stack.io.stacks import write_stack
from noise2stack.model import Model, package_version
from noise2stack.predict.options import PredictOptions


@dataclass
class Prediction:
    """What one prediction of a model produced, in input units.

    Attributes
    ----------
    estimate : ndarray, shape (Z, Y*s, X*s) or (Z, C, Y, X), float32
        The denoised stack.
    std : ndarray, shape (Z, Y, X), optional
        Posterior standard deviation per pixel (methods that declare ``capabilities.uncertainty``).
    unit : callable, optional
        ``unit(u)``: the estimate after building unit ``u`` (one more tiled pass each, run on demand).
    provenance : dict
        Model and settings, written beside the estimate.
    """

    estimate: np.ndarray
    std: np.ndarray | None = None
    unit: Callable[[int], np.ndarray] | None = None
    provenance: dict = field(default_factory=dict)


class Writer(Protocol):
    def write(self, prediction: Prediction) -> None:
        """Write (a part of) ``prediction``."""


@dataclass(frozen=True)
class StackWriter:
    """The estimate to ``path`` in ``axes`` (voxel sizes copied from ``reference``, a file, if given)."""

    path: Path
    axes: str
    reference: str | os.PathLike | None = None

    def write(self, prediction: Prediction) -> None:
        write_stack(self.path, prediction.estimate, self.axes, metadata=prediction.provenance, reference=self.reference)


@dataclass(frozen=True)
class UncertaintyWriter:
    """The posterior standard deviation to ``path``."""

    path: Path
    axes: str
    model: Model
    reference: str | os.PathLike | None = None

    def write(self, prediction: Prediction) -> None:
        if prediction.std is None:
            raise ValueError("this prediction has no posterior std")
        meta = {
            "noise2stack": package_version(),
            "method": self.model.method_name,
            "content": "posterior std",
            "model_sha256": self.model.checksum(),
        }
        write_stack(self.path, prediction.std, self.axes, metadata=meta, reference=self.reference)


@dataclass(frozen=True)
class UnitsWriter:
    """The estimate after each building unit to ``folder/unit_1.tif`` ... ``unit_U.tif`` (paper 003 §2.2.4)."""

    folder: Path
    count: int
    axes: str
    images: int | None = None

    def paths(self) -> list[Path]:
        return [self.folder / f"unit_{u}.tif" for u in range(1, self.count + 1)]

    def write(self, prediction: Prediction) -> None:
        if prediction.unit is None:
            raise ValueError("this prediction has no building units")
        self.folder.mkdir(exist_ok=True)
        for u, path in enumerate(self.paths(), start=1):
            meta = {"noise2stack": package_version(), "unit": u, "images": self.images}
            write_stack(path, prediction.unit(u), self.axes, metadata=meta)


def provenance(model: Model, options: PredictOptions, kspace: int) -> dict:
    """What a denoised file records: the model, its training settings and the prediction's
    (``kspace``: how many k-space sidecars were put back)."""
    return {
        "noise2stack": package_version(),
        "method": model.method_name,
        "mode": model.mode,
        "neighbors": model.neighbors,
        "seed": model.seed,
        "model_sha256": model.checksum(),
        "kspace_postprocessing": kspace,
        "tta": options.tta,
        "output_scale": options.output_scale,
        "stitch": options.stitch,
        "images": options.images,
    }


def channels_provenance(models: Sequence[Model], options: PredictOptions) -> dict:
    """What a stack denoised channel by channel (one model each, or one for all) records."""
    return {
        "noise2stack": package_version(),
        "channels": "separate",
        "model_sha256": [m.checksum() for m in models],
        **options.model_dump(include={"tile", "overlap", "batch", "tta", "stitch", "precision"}),
    }
