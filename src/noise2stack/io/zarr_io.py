"""Lazily read volumes of any size and axes (Zarr v3, OME-Zarr, TIFF, ``.npy``); write OME-Zarr.

A volume is described by a :class:`VolumeSpec`: where it is, the letters of its axes in file order
(any of ``TCZYX``, e.g. ``TCZYX``, ``ZCYX``, ``TYX``), its shape, dtype, voxel sizes and units. The
spec is small and picklable, so every Dask worker opens the volume itself (:func:`open_array`) and
reads only the planes it needs; nothing here loads a volume whole.

- **OME-Zarr** (NGFF 0.4 and 0.5): the metadata is parsed with ``ngff-zarr``; the full-resolution
  level is read. Axes, voxel sizes (the level's ``scale``) and units come from the metadata.
- **Zarr v3 (or v2) array**: axes from ``--axes``, else the array's ``dimension_names`` (or the
  ``_ARRAY_DIMENSIONS`` attribute), else ``YX``/``ZYX`` for 2-D/3-D data.
- **TIFF**: read through tifffile's Zarr view (``imread(path, aszarr=True)``), so only the pages a
  chunk needs are decoded; axes from the file's series (OME-TIFF and ImageJ hyperstacks name them).
- **.npy**: memory-mapped.

Outputs are OME-Zarr 0.5 (a Zarr v3 group): the full-resolution image is the array ``0``, with
the input's axes, voxel sizes and units; :func:`write_pyramid` adds 2x-downsampled levels in Y and X
(``--pyramid``) so viewers open it at once.

Why ``ngff-zarr`` rather than ``ome-zarr-py``: it is lean (zarr + dask + numpy), reads and writes
both NGFF 0.4 and 0.5 (Zarr v3), and ships the NGFF JSON schemas with a ``validate`` function, so
every store written here is checked against the specification before its metadata is written.
``ome-zarr-py`` pulls in a larger stack (fsspec/aiohttp/requests, scikit-image) for features
(remote reading, napari plugin glue) that chunked denoising does not need.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dask.array as da
import numpy as np
import tifffile
import zarr
from ngff_zarr import from_ngff_zarr, validate

from noise2stack.errors import Noise2StackError
from noise2stack.io.tiff_meta import tiff_voxel_sizes

AXIS_LETTERS = "TCZYX"
AXIS_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
OME_VERSION = "0.5"
IMAGE_ARRAY = "0"
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class VolumeSpec:
    """Where a volume is and what its axes mean; small and picklable (sent to Dask workers).

    Attributes
    ----------
    path : str
        The file or store.
    kind : {"zarr", "ome-zarr", "tiff", "npy"}
    array_path : str
        The full-resolution array inside a Zarr group ("" for a bare array).
    axes : str
        Axis letters in file order, from ``TCZYX``.
    shape : tuple of int
    dtype : str
    scale : dict
        Voxel size per axis letter (1.0 where unknown).
    units : dict
        Unit per axis letter (NGFF names, e.g. ``micrometer``, ``second``), or None.
    """

    path: str
    kind: str
    array_path: str
    axes: str
    shape: tuple
    dtype: str
    scale: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)

    def size(self, letter: str) -> int:
        return self.shape[self.axes.index(letter)] if letter in self.axes else 1

    def fingerprint(self) -> dict:
        """What identifies this input for a resumable run (path, shape, dtype, file time and size)."""
        p = Path(self.path)
        probe = p / "zarr.json" if (p / "zarr.json").is_file() else p
        if self.array_path and (p / self.array_path / "zarr.json").is_file():
            probe = p / self.array_path / "zarr.json"
        stat = probe.stat()
        return {
            "path": str(p.resolve()),
            "array": self.array_path,
            "axes": self.axes,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "mtime_ns": stat.st_mtime_ns,
            "bytes": stat.st_size,
        }


def ngff_order(axes: str) -> str:
    """``axes`` reordered as OME-NGFF 0.5 requires: the letters of ``TCZYX`` present, in that order."""
    return "".join(a for a in AXIS_LETTERS if a in axes)


def is_zarr_path(path: str | os.PathLike) -> bool:
    """True for ``*.zarr`` paths and folders that hold Zarr metadata."""
    p = Path(path)
    if p.name.lower().rstrip("/").endswith(".zarr"):
        return True
    return p.is_dir() and any((p / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


def check_axes(axes: str) -> str:
    """Upper-case ``axes``, checked: letters of ``TCZYX`` once each, with Y and X."""
    axes = axes.upper()
    if not axes or set(axes) - set(AXIS_LETTERS) or len(set(axes)) != len(axes):
        raise Noise2StackError(f"`axes` {axes!r} is not valid: use each of the letters T, C, Z, Y, X at most once")
    if "Y" not in axes or "X" not in axes:
        raise Noise2StackError(f"`axes` {axes!r} must contain Y and X")
    return axes


def _default_axes(ndim: int, path: Path) -> str:
    if ndim == 2:
        return "YX"
    if ndim == 3:
        return "ZYX"
    raise Noise2StackError(f"{path} has {ndim} axes and does not name them; give `axes` (letters of TCZYX)")


def _ome_attrs(attrs: dict) -> dict | None:
    if "ome" in attrs and isinstance(attrs["ome"], dict) and "multiscales" in attrs["ome"]:
        return attrs["ome"]
    if "multiscales" in attrs:
        return attrs
    return None


def _inspect_zarr(p: Path, axes: str | None) -> VolumeSpec:

    try:
        node = zarr.open(str(p), mode="r")
    except Exception:  # FileNotFoundError, GroupNotFoundError, NodeTypeValidationError, JSON errors
        raise Noise2StackError(f"{p} is not a Zarr array or group") from None
    if isinstance(node, zarr.Group):
        ome = _ome_attrs(dict(node.attrs))
        if ome is None:
            arrays = sorted(node.array_keys())[:3]
            hint = f"; pass the array inside it, e.g. {p / arrays[0]}" if arrays else ""
            raise Noise2StackError(f"{p} is a Zarr group without OME-NGFF multiscales metadata{hint}")
        return _inspect_ome(p, axes)
    # untrusted JSON (checked below: strings naming axes)
    names: Any = getattr(node.metadata, "dimension_names", None) or node.attrs.get("_ARRAY_DIMENSIONS")
    if axes is None:
        if names and all(isinstance(n, str) and n.upper() in AXIS_LETTERS for n in names):
            axes = "".join(n.upper() for n in names)
        else:
            axes = _default_axes(node.ndim, p)
    return _spec(p, "zarr", "", axes, node.shape, node.dtype, {}, {})


def _inspect_ome(p: Path, axes: str | None) -> VolumeSpec:

    try:
        multiscales = from_ngff_zarr(str(p), validate=False)
    except Exception as exc:
        raise Noise2StackError(f"{p} has OME-NGFF metadata that cannot be read: {type(exc).__name__}: {exc}") from None
    image = multiscales.images[0]
    dims = [str(d).upper() for d in image.dims]
    if set(dims) - set(AXIS_LETTERS):
        raise Noise2StackError(f"{p} has axes {image.dims}; noise2stack reads the axes t, c, z, y, x")
    if "Y" not in dims or "X" not in dims:
        raise Noise2StackError(f"{p} has axes {''.join(dims).lower()} without y and x; an image needs both")
    file_axes = "".join(dims)
    if axes is not None and check_axes(axes) != file_axes:
        raise Noise2StackError(
            f"`axes` {axes} does not match the axes {file_axes} in {p}'s OME-NGFF metadata; omit `axes`"
        )
    array_path = multiscales.metadata.datasets[0].path
    array = zarr.open_array(str(p / array_path), mode="r")
    scale = {d.upper(): float(v) for d, v in (image.scale or {}).items()}
    units = {d.upper(): (str(u) if u else None) for d, u in (image.axes_units or {}).items()}
    return _spec(p, "ome-zarr", array_path, file_axes, array.shape, array.dtype, scale, units)


def _tiff_axes(series_axes: str, ndim: int, p: Path) -> str:
    letters = series_axes.upper()
    if len(letters) == ndim and set(letters) <= set(AXIS_LETTERS) and len(set(letters)) == ndim:
        return letters
    if "S" in letters:
        raise Noise2StackError(f"{p} is an RGB(A) image (axes {series_axes}); noise2stack denoises grey-level planes")
    return _default_axes(ndim, p)


def _inspect_tiff(p: Path, axes: str | None) -> VolumeSpec:

    try:
        with tifffile.TiffFile(p) as tif:
            if not tif.series or not len(tif.pages):
                raise Noise2StackError(f"cannot read {p}: no image in the file (corrupt or truncated TIFF?)")
            series = tif.series[0]
            shape, dtype, series_axes = tuple(series.shape), series.dtype, series.axes
            axes = check_axes(axes or _tiff_axes(series_axes, len(shape), p))
            scale, units = tiff_voxel_sizes(tif, axes)
    except Noise2StackError:
        raise
    except Exception as exc:
        raise Noise2StackError(f"cannot read {p}: {type(exc).__name__}: {exc}") from None
    return _spec(p, "tiff", "", axes, shape, dtype, scale, units)


def _inspect_npy(p: Path, axes: str | None) -> VolumeSpec:
    try:
        array = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise Noise2StackError(f"cannot read {p}: {exc}") from None
    return _spec(p, "npy", "", axes or _default_axes(array.ndim, p), array.shape, array.dtype, {}, {})


def _spec(p: Path, kind: str, array_path: str, axes: str, shape, dtype, scale: dict, units: dict) -> VolumeSpec:
    axes = check_axes(axes)
    if len(axes) != len(shape):
        raise Noise2StackError(
            f"`axes` {axes!r} has {len(axes)} letters but {p} has {len(shape)} axes, shape {tuple(shape)}"
        )
    dtype = np.dtype(dtype)
    if dtype.kind not in "uif":
        raise Noise2StackError(f"{p} has dtype {dtype}; an image must hold integers or floats")
    if int(np.prod(shape)) == 0:
        raise Noise2StackError(f"{p} is empty (shape {tuple(shape)})")
    return VolumeSpec(
        str(p),
        kind,
        array_path,
        axes,
        tuple(int(s) for s in shape),
        dtype.str,
        {a: float(scale.get(a, 1.0)) for a in axes},
        {a: units.get(a) for a in axes},
    )


def inspect_volume(path: str | os.PathLike, axes: str | None = None) -> VolumeSpec:
    """Describe a volume without reading its voxels.

    Parameters
    ----------
    path : path-like
        A Zarr array, an OME-Zarr group, a TIFF or an ``.npy`` file.
    axes : str, optional
        Axis letters in file order (from ``TCZYX``); OME-Zarr names them itself.

    Raises
    ------
    Noise2StackError
        If the path is missing, not an image, has unsupported axes or dtype, or ``axes`` does not fit.
    """
    p = Path(path)
    if is_zarr_path(p):
        if not p.exists():
            raise Noise2StackError(f"file not found: {p}")
        return _inspect_zarr(p, axes)
    if not p.is_file():
        raise Noise2StackError(f"file not found: {p}" if not p.exists() else f"not a file: {p}")
    suffix = p.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return _inspect_tiff(p, axes)
    if suffix == ".npy":
        return _inspect_npy(p, axes)
    raise Noise2StackError(
        f"{p}: chunked reading supports Zarr, OME-Zarr, TIFF and .npy, not {suffix or '(no suffix)'}"
    )


_OPEN: dict = {}
_OPEN_LOCK = threading.Lock()


def open_array(spec: VolumeSpec):
    """An array-like (``shape``, ``dtype``, NumPy-style slicing) over the volume; cached per process."""
    key = (spec.path, spec.array_path, spec.kind)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = _open(spec)
        return _OPEN[key]


def _open(spec: VolumeSpec):

    if spec.kind == "npy":
        return np.load(spec.path, mmap_mode="r", allow_pickle=False)
    if spec.kind == "tiff":
        node = zarr.open(tifffile.imread(spec.path, aszarr=True), mode="r")
        return node if isinstance(node, zarr.Array) else node["0"]  # a pyramidal TIFF: level 0
    return zarr.open_array(str(Path(spec.path) / spec.array_path) if spec.array_path else spec.path, mode="r")


def ome_metadata(axes: str, scale: dict, units: dict, levels: int = 1, name: str = "image") -> dict:
    """The ``ome`` attribute of an OME-Zarr 0.5 image group with ``levels`` levels (Y/X halved per level)."""
    axes_meta = []
    for a in axes:
        entry = {"name": a.lower(), "type": AXIS_TYPES[a]}
        if units.get(a):
            entry["unit"] = units[a]
        axes_meta.append(entry)
    datasets = []
    for level in range(levels):
        factor = [2.0**level if a in "YX" else 1.0 for a in axes]
        datasets.append(
            {
                "path": str(level),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [float(scale.get(a, 1.0)) * f for a, f in zip(axes, factor)]}
                ],
            }
        )
    return {"version": OME_VERSION, "multiscales": [{"name": name, "axes": axes_meta, "datasets": datasets}]}


def validate_ome(attributes: dict) -> None:
    """Check OME-Zarr group attributes against the NGFF JSON schema shipped with ngff-zarr."""

    validate(attributes, version=OME_VERSION, model="image")


def create_ome_zarr(
    path: str | os.PathLike,
    axes: str,
    shape: tuple,
    chunks: tuple,
    scale: dict,
    units: dict,
    attributes: dict | None = None,
    dtype: str = "float32",
) -> None:
    """Create an OME-Zarr 0.5 group with an empty full-resolution array ``0`` (fill value 0).

    ``axes`` must be in NGFF order (:func:`ngff_order`): time, channel, then space.

    ``attributes`` are stored next to the ``ome`` metadata (e.g. the noise2stack run record).
    """

    ome = ome_metadata(axes, scale, units)
    validate_ome({"ome": ome})
    group = zarr.open_group(str(path), mode="w-", zarr_format=3, attributes={"ome": ome, **(attributes or {})})
    group.create_array(
        IMAGE_ARRAY,
        shape=tuple(shape),
        chunks=tuple(chunks),
        dtype=dtype,
        fill_value=0,
        dimension_names=[a.lower() for a in axes],
    )


def write_pyramid(path: str | os.PathLike, min_side: int = 64, max_levels: int = 6) -> int:
    """Add levels ``1, 2, ...`` to an OME-Zarr image, each the 2x2 mean in Y and X of the one above.

    Levels are added while the smaller of Y and X stays >= ``min_side``; computed chunk by chunk
    with Dask, so memory is bounded by the chunk size. Returns the number of levels (with level 0).
    """

    group = zarr.open_group(str(path), mode="r+")
    attrs: dict[str, Any] = group.attrs.asdict()  # JSON, as create_ome_zarr wrote it
    ome = dict(attrs["ome"])
    axes = "".join(a["name"].upper() for a in ome["multiscales"][0]["axes"])
    base = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    scale = dict(zip(axes, base))
    units = {a["name"].upper(): a.get("unit") for a in ome["multiscales"][0]["axes"]}
    levels = 1
    previous = cast(zarr.Array, group[IMAGE_ARRAY])  # create_ome_zarr made it an array
    while levels < max_levels:
        y, x = previous.shape[axes.index("Y")], previous.shape[axes.index("X")]
        if min(y, x) // 2 < min_side:
            break
        source = da.from_zarr(previous)
        factors = {axes.index("Y"): 2, axes.index("X"): 2}
        down = da.coarsen(np.mean, source, factors, trim_excess=True).astype(np.float32)
        chunks = tuple(min(c, s) for c, s in zip(previous.chunks, down.shape))
        target = group.create_array(
            str(levels),
            shape=down.shape,
            chunks=chunks,
            dtype="float32",
            fill_value=0,
            dimension_names=[a.lower() for a in axes],
            overwrite=True,
        )
        da.store(down.rechunk(chunks), target, lock=False)  # type: ignore[arg-type]  # dask's hint omits zarr arrays
        previous = target
        levels += 1
    ome = ome_metadata(axes, scale, units, levels=levels, name=ome["multiscales"][0].get("name", "image"))
    validate_ome({"ome": ome})
    group.attrs["ome"] = ome
    return levels
