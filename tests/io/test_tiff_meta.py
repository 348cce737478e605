"""TIFF voxel sizes: read from ImageJ, OME-XML and resolution tags, kept through prediction."""

import numpy as np
import pytest
import tifffile
import zarr

from noise2stack import api
from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.io.stacks import write_stack
from noise2stack.io.tiff_meta import read_tiff_voxel_sizes, unit_name
from noise2stack.io.zarr_io import inspect_volume
from noise2stack.model import Model


def stack(shape=(5, 24, 20)):
    return (np.random.default_rng(0).random(shape) * 100).astype(np.float32)


def test_imagej_hyperstack_spacing_resolution_and_frame_interval(tmp_path):
    p = tmp_path / "ij.tif"
    tifffile.imwrite(
        p,
        stack((3, 5, 24, 20)),
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.2),
        metadata={"axes": "TZYX", "spacing": 0.5, "unit": "micron", "finterval": 2.5},
    )
    scale, units = read_tiff_voxel_sizes(p, "TZYX")
    assert scale == pytest.approx({"T": 2.5, "Z": 0.5, "Y": 0.2, "X": 0.25})
    assert units == {"T": "second", "Z": "micrometer", "Y": "micrometer", "X": "micrometer"}


def test_ome_tiff_physical_sizes_with_units(tmp_path):
    p = tmp_path / "a.ome.tif"
    tifffile.imwrite(
        p,
        stack(),
        ome=True,
        metadata={
            "axes": "ZYX",
            "PhysicalSizeX": 4.0,
            "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": 4.0,
            "PhysicalSizeYUnit": "nm",
            "PhysicalSizeZ": 50.0,
            "PhysicalSizeZUnit": "nm",
        },
    )
    spec = inspect_volume(p)
    assert spec.scale == {"Z": 50.0, "Y": 4.0, "X": 4.0}
    assert spec.units == {"Z": "nanometer", "Y": "nanometer", "X": "nanometer"}


def test_resolution_tags_in_centimetres_and_no_sizes_at_all(tmp_path):
    tifffile.imwrite(tmp_path / "cm.tif", stack(), resolution=(1e4 / 0.5, 1e4 / 0.5), resolutionunit="CENTIMETER")
    scale, units = read_tiff_voxel_sizes(tmp_path / "cm.tif", "ZYX")
    assert scale == pytest.approx({"Y": 0.5e-4, "X": 0.5e-4}) and units == {"Y": "centimeter", "X": "centimeter"}
    tifffile.imwrite(tmp_path / "bare.tif", stack(), photometric="minisblack")
    assert read_tiff_voxel_sizes(tmp_path / "bare.tif", "ZYX") == ({}, {})
    spec = inspect_volume(tmp_path / "bare.tif")
    assert spec.scale == {"Z": 1.0, "Y": 1.0, "X": 1.0} and spec.units == {"Z": None, "Y": None, "X": None}


def test_unit_spellings():
    assert unit_name("\\u00B5m") == unit_name("µm") == unit_name("micron") == "micrometer"
    assert unit_name("pixel") is None and unit_name(None) is None


def test_sizes_survive_tiff_to_tiff_and_tiff_to_ome_zarr_prediction(tmp_path):
    src = tmp_path / "in.tif"
    tifffile.imwrite(
        src, stack(), imagej=True, resolution=(1 / 0.3, 1 / 0.3), metadata={"axes": "ZYX", "spacing": 1.2, "unit": "um"}
    )
    folder = tmp_path / "model"
    Model(make_config(neighbors=2), Normalizer("percentile", 0.0, 100.0)).save(folder)
    api.predict(folder, src, tmp_path / "out.tif", progress=False)
    scale, units = read_tiff_voxel_sizes(tmp_path / "out.tif", "ZYX")
    assert scale == pytest.approx({"Z": 1.2, "Y": 0.3, "X": 0.3}) and set(units.values()) == {"micrometer"}
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:  # readers that only look at the tags see Y/X too
        assert tif.pages[0].tags["ResolutionUnit"].value == 3
    api.predict(folder, src, tmp_path / "out.zarr", progress=False)
    ome = zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs["ome"]["multiscales"][0]
    assert ome["datasets"][0]["coordinateTransformations"][0]["scale"] == pytest.approx([1.2, 0.3, 0.3])
    assert [a.get("unit") for a in ome["axes"]] == ["micrometer"] * 3


def test_write_stack_without_reference_writes_no_sizes(tmp_path):
    write_stack(tmp_path / "x.tif", stack(), "ZYX")
    assert read_tiff_voxel_sizes(tmp_path / "x.tif", "ZYX") == ({}, {})
