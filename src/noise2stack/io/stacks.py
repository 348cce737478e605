"""Read and write image stacks (TIFF, ``.npy``, NIfTI) with explicit axes.

Internally every stack is a ``ZYX`` array: Z is the axis along which neighbouring planes are taken
(depth for a z-stack, time for a time-lapse), Y and X are the plane axes. ``--axes`` tells which axis
of the file is which, e.g. ``ZYX`` (default), ``TYX`` (T is treated as Z), ``YXZ`` or ``YX`` for a single
2-D image.

NIfTI (``.nii``, ``.nii.gz``, through nibabel) stores voxels as (i, j, k). Its array is presented in
reversed order (k, j, i), so the default ``ZYX`` takes planes along the third voxel axis (axial for
RAS volumes); ``--axes YZX`` or ``YXZ`` slice along the others. Outputs written as NIfTI keep the
affine and header of the input volume.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
from pathlib import Path
from typing import Iterator, cast

import nibabel as nib
import numpy as np
import tifffile
from nibabel.spatialimages import SpatialImage

from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path
from noise2stack.io.tiff_meta import read_tiff_voxel_sizes, tiff_write_options

SUPPORTED_SUFFIXES = (".tif", ".tiff", ".npy", ".nii", ".nii.gz")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
_AXIS_LETTERS = set("ZTCYX")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def check_readable(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is an existing file of a supported format, else raise."""
    p = Path(path)
    if not p.exists():
        raise Noise2StackError(f"file not found: {p}")
    if not p.is_file():
        raise Noise2StackError(f"not a file: {p}")
    if _suffix(p) not in SUPPORTED_SUFFIXES:
        raise Noise2StackError(
            f"unsupported format {p.suffix or '(no suffix)'!r} for {p}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return p


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_warnings() -> Iterator[list[str]]:
    """Collect tifffile's logged warnings (it logs, rather than raises, on damaged files)."""
    logger = logging.getLogger("tifffile")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _read_tiff(p: Path) -> np.ndarray:

    with _tifffile_warnings() as warnings_seen, tifffile.TiffFile(p) as tif:
        if not tif.series or not len(tif.pages):
            raise Noise2StackError(f"cannot read {p}: no image in the file (corrupt or truncated TIFF?)")
        array = tif.asarray()
    if warnings_seen:
        first = warnings_seen[0].split(">", 1)[-1].strip()
        raise Noise2StackError(f"cannot read {p}: corrupt or truncated TIFF ({first})")
    return array


def _load_nifti(path: str | os.PathLike) -> SpatialImage:
    # nibabel annotates load() with the base class of all images; a NIfTI file loads as a SpatialImage
    return cast(SpatialImage, nib.load(str(path)))


def _read_nifti(p: Path) -> np.ndarray:

    image = _load_nifti(p)
    data = np.asanyarray(image.dataobj)  # applies the header's scaling, if any
    return np.ascontiguousarray(data.T)  # (i, j, k) -> (k, j, i): see the module docstring


def stored_shape(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype of the image in ``path`` (axes as :func:`read_array` returns them), read from
    the file's header without its data; None when the header cannot say (the full read then reports why)."""
    p = Path(path)
    try:
        if _suffix(p) == ".npy":
            array = np.load(p, mmap_mode="r", allow_pickle=False)
            return tuple(array.shape), array.dtype
        if _suffix(p) in NIFTI_SUFFIXES:
            image = _load_nifti(p)
            return tuple(reversed(image.shape)), np.dtype(image.get_data_dtype())

        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            return tuple(series.shape), np.dtype(series.dtype)
    except Exception:  # noqa: BLE001 - any failure: let the full read give its message
        return None


def _read_raw(p: Path) -> np.ndarray:
    try:
        if _suffix(p) in NIFTI_SUFFIXES:
            return _read_nifti(p)
        if _suffix(p) == ".npy":
            # allow_pickle=False: an .npy of objects could run code when loaded.
            return np.load(p, allow_pickle=False)
        return _read_tiff(p)
    except Noise2StackError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise Noise2StackError(f"{p} holds Python objects, not an image") from None
        raise Noise2StackError(f"cannot read {p}: {exc}") from None
    except Exception as exc:  # tifffile raises many types for corrupt files
        raise Noise2StackError(f"cannot read {p}: {type(exc).__name__}: {exc}") from None


def to_zyx(array: np.ndarray, axes: str) -> np.ndarray:
    """Reorder ``array`` from ``axes`` to ``ZYX`` (a ``YX`` image becomes one plane), or to ``ZCYX``
    when ``axes`` holds a channel axis C.

    Parameters
    ----------
    array : ndarray
        The image as stored.
    axes : str
        One letter per array axis, from ``Z`` (or ``T``), ``C``, ``Y``, ``X``; e.g. ``"ZYX"``, ``"YXZ"``,
        ``"YX"``, ``"CZYX"``.

    Returns
    -------
    ndarray, shape (Z, Y, X), or (Z, C, Y, X) with a C axis
    """
    axes = axes.upper()
    if not axes or set(axes) - _AXIS_LETTERS or len(set(axes)) != len(axes):
        raise Noise2StackError(f"`axes` {axes!r} is not valid: use the letters Z (or T), C, Y, X once each")
    if "Z" in axes and "T" in axes:
        raise Noise2StackError("`axes` may hold Z or T, not both: both name the stack axis")
    axes = axes.replace("T", "Z")
    if array.ndim != len(axes):
        raise Noise2StackError(
            f"`axes` {axes!r} has {len(axes)} letters but the image has {array.ndim} axes, shape {array.shape}"
        )
    if "Y" not in axes or "X" not in axes:
        raise Noise2StackError(f"`axes` {axes!r} must contain Y and X")
    if "Z" not in axes:
        array, axes = array[np.newaxis], "Z" + axes
    target = "ZCYX" if "C" in axes else "ZYX"
    return np.transpose(array, [axes.index(a) for a in target])


def from_zyx(array: np.ndarray, axes: str) -> np.ndarray:
    """Inverse of :func:`to_zyx`: reorder a ``ZYX`` (``ZCYX`` when ``axes`` holds C) array back to ``axes``."""
    axes = axes.upper().replace("T", "Z")
    source = "ZCYX" if "C" in axes else "ZYX"
    if "Z" not in axes:
        array, source = array[0], source[1:]
    return np.transpose(array, [source.index(a) for a in axes])


def read_array(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as stored (no axis reordering), checking format, dtype, size and values.

    Raises
    ------
    Noise2StackError
        If the file is missing, unreadable, of an unsupported format or dtype, empty, or contains
        NaN or Inf.
    """
    p = check_readable(path)
    array = _read_raw(p)
    if array.dtype.kind not in "uif":
        raise Noise2StackError(f"{p} has dtype {array.dtype}; an image must hold integers or floats")
    if array.size == 0:
        raise Noise2StackError(f"{p} is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        n_bad = int(np.count_nonzero(~np.isfinite(array)))
        raise Noise2StackError(f"{p} contains {n_bad} NaN or Inf values; replace them before denoising")
    return array


def read_stack(path: str | os.PathLike, axes: str = "ZYX") -> np.ndarray:
    """Read a stack as a ``ZYX`` array of its own dtype.

    Parameters
    ----------
    path : path-like
        A TIFF (``.tif``/``.tiff``) or NumPy (``.npy``) file.
    axes : str
        Axis letters of the array in the file (default ``"ZYX"``).

    Returns
    -------
    ndarray, shape (Z, Y, X)
        Integer or float values as stored.

    Raises
    ------
    Noise2StackError
        As :func:`read_array`, or if the array does not match ``axes``.
    """
    return to_zyx(read_array(path), axes)


def _nifti_bytes(array: np.ndarray, reference: str | os.PathLike | None, gzipped: bool, metadata: dict | None) -> bytes:

    data = array.T  # back from (k, j, i) to nibabel's (i, j, k)
    affine, header = np.eye(4), None
    if reference is not None and _suffix(Path(reference)) in NIFTI_SUFFIXES:
        ref = _load_nifti(reference)
        if ref.shape == data.shape:
            affine, header = ref.affine, ref.header.copy()
    image = nib.Nifti1Image(data.astype(np.float32), affine, header)
    image.set_data_dtype(np.float32)
    image.header.set_slope_inter(1.0, 0.0)
    if metadata:
        image.header["descrip"] = json.dumps(metadata, separators=(",", ":"))[:79].encode()
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=6) if gzipped else raw


def write_stack(
    path: str | os.PathLike,
    stack: np.ndarray,
    axes: str = "ZYX",
    metadata: dict | None = None,
    reference: str | os.PathLike | None = None,
) -> None:
    """Write a ``ZYX`` stack to ``path`` (TIFF, ``.npy`` or NIfTI) atomically, in the order of ``axes``.

    Parameters
    ----------
    path : path-like
        Output file; its suffix picks the format.
    stack : ndarray, shape (Z, Y, X)
    axes : str
        Axis order to write (the input's, so the output has the input's shape).
    metadata : dict, optional
        Provenance: stored in the TIFF's ImageDescription as JSON, in a NIfTI header's ``descrip``
        (first 79 characters), ignored for ``.npy``.
    reference : path-like, optional
        The input file: a NIfTI output takes its affine and header (voxel sizes, orientation); a
        TIFF output takes a TIFF reference's voxel sizes and units (:mod:`noise2stack.io.tiff_meta`).
    """
    p = Path(path)
    if _suffix(p) not in SUPPORTED_SUFFIXES:
        raise Noise2StackError(
            f"unsupported output format {p.suffix or '(no suffix)'!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    array = np.ascontiguousarray(from_zyx(stack, axes))
    with atomic_path(p) as tmp:
        if _suffix(p) in NIFTI_SUFFIXES:
            tmp.write_bytes(_nifti_bytes(array, reference, _suffix(p) == ".nii.gz", metadata))
        elif _suffix(p) == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, array)
        else:
            meta = {"axes": axes.upper().replace("T", "Z") if array.ndim >= 3 else "YX"}
            meta.update(metadata or {})
            options: dict = {}
            if reference is not None and _suffix(Path(reference)) in (".tif", ".tiff"):
                scale, units = read_tiff_voxel_sizes(reference, axes.upper())
                if scale:
                    sizes, options = tiff_write_options(scale, units)
                    meta.update(sizes)
            tifffile.imwrite(tmp, array, metadata=meta, photometric="minisblack", **options)
