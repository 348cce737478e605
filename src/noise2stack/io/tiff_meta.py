"""Voxel sizes and units of TIFF files: read from OME-XML, ImageJ metadata or the resolution tags,
written so that ImageJ, tifffile and noise2stack read them back.

Where a file states sizes, in order of preference:

* OME-TIFF: ``Pixels`` attributes ``PhysicalSizeX/Y/Z`` (+ ``...Unit``, default µm) and
  ``TimeIncrement`` (+ ``TimeIncrementUnit``, default s).
* noise2stack's own outputs: ``voxel_size`` and ``units`` in tifffile's shaped (JSON) metadata.
* ImageJ hyperstacks: ``spacing`` (Z), ``finterval`` (T) and ``unit`` in the ImageJ description; Y and
  X from the ``XResolution`` / ``YResolution`` tags (pixels per unit).
* Any other TIFF: the resolution tags with ``ResolutionUnit`` inch or centimetre.

Units are NGFF (UDUNITS-2) names: ``micrometer``, ``nanometer``, ``second``, ...; axes without a
stated size get 1.0 and no unit.
"""

from __future__ import annotations

import math

import tifffile

#: Spellings found in ImageJ and OME metadata -> NGFF unit names.
UNIT_NAMES = {
    "micron": "micrometer",
    "microns": "micrometer",
    "um": "micrometer",
    "µm": "micrometer",
    "\u03bcm": "micrometer",
    "micrometer": "micrometer",
    "nm": "nanometer",
    "nanometer": "nanometer",
    "mm": "millimeter",
    "millimeter": "millimeter",
    "cm": "centimeter",
    "centimeter": "centimeter",
    "m": "meter",
    "meter": "meter",
    "pm": "picometer",
    "å": "angstrom",
    "angstrom": "angstrom",
    "inch": "inch",
    "in": "inch",
    "s": "second",
    "sec": "second",
    "second": "second",
    "seconds": "second",
    "ms": "millisecond",
    "millisecond": "millisecond",
    "min": "minute",
    "minute": "minute",
    "h": "hour",
    "hour": "hour",
}


def unit_name(text: str | None) -> str | None:
    """The NGFF name of a unit spelling, or None where it is unknown or "pixel"."""
    if not text:
        return None
    key = str(text).strip().replace("\\u00B5", "\u00b5").lower()
    return UNIT_NAMES.get(key)


def _positive(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def _resolution(page) -> tuple[float | None, float | None, str | None]:
    """(Y size, X size, unit) from a page's resolution tags; None where absent."""
    sizes = []
    for name in ("YResolution", "XResolution"):
        tag = page.tags.get(name)
        size = None
        if tag is not None:
            num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
            size = _positive(den / num) if num else None
        sizes.append(size)
    unit_tag = page.tags.get("ResolutionUnit")
    code = int(unit_tag.value) if unit_tag is not None else 2
    unit = {2: "inch", 3: "centimeter", 4: "millimeter", 5: "micrometer"}.get(code)
    return sizes[0], sizes[1], unit


def _from_ome(tif) -> tuple[dict, dict] | None:

    try:
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
        pixels = (pixels[0] if isinstance(pixels, list) else pixels)["Pixels"]
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    scale, units = {}, {}
    for letter, key, default in (
        ("X", "PhysicalSizeX", "µm"),
        ("Y", "PhysicalSizeY", "µm"),
        ("Z", "PhysicalSizeZ", "µm"),
        ("T", "TimeIncrement", "s"),
    ):
        size = _positive(pixels.get(key))
        if size is not None:
            scale[letter] = size
            units[letter] = unit_name(pixels.get(f"{key}Unit", default))
    return scale, units


def _from_noise2stack(tif) -> tuple[dict, dict] | None:
    for meta in tif.shaped_metadata or ():
        if isinstance(meta, dict) and isinstance(meta.get("voxel_size"), dict):
            scale = {k.upper(): v for k, v in meta["voxel_size"].items() if _positive(v) is not None}
            units = {k.upper(): unit_name(v) for k, v in (meta.get("units") or {}).items()}
            return {k: float(v) for k, v in scale.items()}, units
    return None


def _from_imagej(tif) -> tuple[dict, dict] | None:
    meta = tif.imagej_metadata
    if not meta:
        return None
    unit = unit_name(meta.get("unit"))
    y, x, _ = _resolution(tif.pages[0])  # ImageJ writes pixels per `unit` into the tags
    scale, units = {}, {}
    for letter, size in (("Y", y), ("X", x), ("Z", _positive(meta.get("spacing")))):
        if size is not None and unit is not None:
            scale[letter], units[letter] = size, unit
    if _positive(meta.get("finterval")) is not None:
        scale["T"], units["T"] = float(meta["finterval"]), unit_name(meta.get("tunit", "s")) or "second"
    return scale, units


def _from_tags(tif) -> tuple[dict, dict]:
    y, x, unit = _resolution(tif.pages[0])
    if unit is None:  # ResolutionUnit "none": an aspect ratio, not a size
        return {}, {}
    scale, units = {}, {}
    for letter, size in (("Y", y), ("X", x)):
        if size is not None and not (size == 1.0 and unit == "inch"):  # 1 pixel per inch: the writer's default
            scale[letter], units[letter] = size, unit
    return scale, units


def tiff_voxel_sizes(tif, axes: str) -> tuple[dict, dict]:
    """``(scale, units)`` per axis letter of ``axes`` for an open ``tifffile.TiffFile``.

    Returns only the letters the file gives a size for; the caller fills in 1.0 / None.
    """
    readers = ([_from_ome] if tif.is_ome else []) + [_from_noise2stack] + ([_from_imagej] if tif.is_imagej else [])
    for reader in readers:  # the first source that states a size wins
        found = reader(tif)
        if found and found[0]:
            break
    else:
        found = _from_tags(tif)
    scale, units = found
    return {a: scale[a] for a in axes if a in scale}, {a: units.get(a) for a in axes if a in scale}


def read_tiff_voxel_sizes(path, axes: str) -> tuple[dict, dict]:
    """:func:`tiff_voxel_sizes` of the file at ``path``."""

    with tifffile.TiffFile(path) as tif:
        return tiff_voxel_sizes(tif, axes)


def tiff_write_options(scale: dict, units: dict) -> tuple[dict, dict]:
    """``(metadata, options)``: shaped-metadata entries and ``tifffile.imwrite`` keywords that store
    ``scale`` / ``units``.

    The sizes go into the shaped JSON metadata (read back exactly by :func:`tiff_voxel_sizes`) and, for
    Y/X in a length unit, into the resolution tags (pixels per centimetre), which other readers use.
    """
    meta = {"voxel_size": {k: float(v) for k, v in scale.items()}, "units": {k: units.get(k) for k in scale}}
    options: dict = {}
    to_cm = {"micrometer": 1e-4, "nanometer": 1e-7, "millimeter": 0.1, "centimeter": 1.0, "meter": 100.0}
    if "Y" in scale and "X" in scale and units.get("Y") == units.get("X") and units.get("X") in to_cm:
        factor = to_cm[units["X"]]
        options = {
            "resolution": (1.0 / (scale["X"] * factor), 1.0 / (scale["Y"] * factor)),
            "resolutionunit": "CENTIMETER",
        }
    return meta, options
