"""Inputs given as paths or arrays, and outputs checked before any work: shared by training, prediction and the API."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from noise2stack.errors import Noise2StackError
from noise2stack.io.stacks import read_array, to_zyx

StackLike = Union[str, os.PathLike, np.ndarray]


def native_axes(array: np.ndarray) -> str:
    """``YX`` for a 2-D array, ``ZYX`` for a 3-D one; other dimensions need the caller's axes."""
    if array.ndim not in (2, 3):
        raise Noise2StackError(f"the image has {array.ndim} axes, shape {array.shape}; give axes")
    return "YX" if array.ndim == 2 else "ZYX"


def load_zyx(stack: StackLike, axes: str | None) -> np.ndarray:
    """A ZYX array (ZCYX with a C axis) from a path or array; ``axes=None`` takes YX for 2-D, ZYX for 3-D data."""
    if isinstance(stack, np.ndarray):
        if stack.dtype.kind not in "uif" or stack.size == 0:
            raise Noise2StackError(
                f"an image must be a non-empty array of integers or floats, got {stack.dtype} {stack.shape}"
            )
        if stack.dtype.kind == "f" and not np.isfinite(stack).all():
            raise Noise2StackError("the array contains NaN or Inf values; replace them before denoising")
        array = stack
    else:
        array = read_array(stack)
    return to_zyx(array, axes or native_axes(array))


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def check_parent(out: Path) -> None:
    """Refuse an output whose folder is missing or not writable."""
    if not out.parent.is_dir():
        raise Noise2StackError(f"output folder does not exist: {out.parent}")
    if not os.access(out.parent, os.W_OK):
        raise Noise2StackError(f"output folder is not writable: {out.parent}")


def check_output(out: str | os.PathLike, inputs: Sequence[StackLike], overwrite: bool) -> Path:
    """The output file path, refused when it is an input, exists (without ``overwrite``) or is a folder."""
    out = Path(out)
    for item in inputs:
        if not isinstance(item, np.ndarray) and same_path(out, item):
            raise Noise2StackError(f"the output {out} is also an input; choose another output path")
    if out.is_dir():
        raise Noise2StackError(f"{out} is a folder, not a file")
    if out.exists() and not overwrite:
        raise Noise2StackError(f"{out} exists; pass `overwrite` to replace it")
    check_parent(out)
    return out


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(item: StackLike) -> dict:
    """How a model folder records one input: its path and SHA-256 (a Zarr store: its path; an array: its shape)."""
    if isinstance(item, np.ndarray):
        return {"array": list(item.shape)}
    if Path(item).is_dir():  # a Zarr store: hashing a volume of any size is not an option
        return {"path": str(Path(item).resolve())}
    return {"path": str(Path(item).resolve()), "sha256": file_sha256(item)}
