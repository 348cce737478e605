"""Zarr / OME-Zarr / lazy TIFF volumes: axes, voxel sizes and units survive; bad stores are refused."""

from __future__ import annotations

import ngff_zarr
import numpy as np
import pytest
import tifffile
import zarr

from noise2stack import api
from noise2stack.cli import main
from noise2stack.errors import Noise2StackError
from noise2stack.io.zarr_io import create_ome_zarr, inspect_volume, open_array, write_pyramid

SCALE = {"t": 2.5, "c": 1.0, "z": 0.75, "y": 0.125, "x": 0.125}
UNITS = {"t": "second", "z": "micrometer", "y": "micrometer", "x": "micrometer"}


def write_ome(path, data, dims):
    image = ngff_zarr.to_ngff_image(
        data, dims=list(dims), scale={d: SCALE[d] for d in dims}, axes_units={d: UNITS[d] for d in dims if d in UNITS}
    )
    ngff_zarr.to_ngff_zarr(str(path), ngff_zarr.to_multiscales(image, scale_factors=[]), version="0.5")


def _hand_written_ome(path, dims):
    """An OME-Zarr whose metadata names axes noise2stack cannot use (ngff-zarr will not write it)."""
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("0", shape=(3,) * len(dims), dtype="f4")
    axes = [{"name": d, "type": "space"} for d in dims]
    group.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [
            {
                "axes": axes,
                "datasets": [
                    {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(dims)}]}
                ],
            }
        ],
    }


def test_ome_zarr_is_read_lazily_with_its_axes_scale_and_units(tmp_path):
    data = np.arange(2 * 3 * 4 * 8 * 6, dtype=np.uint16).reshape(2, 3, 4, 8, 6)
    write_ome(tmp_path / "in.ome.zarr", data, "tczyx")
    spec = inspect_volume(tmp_path / "in.ome.zarr")
    assert spec.kind == "ome-zarr" and spec.axes == "TCZYX" and spec.shape == data.shape
    assert spec.scale == {"T": 2.5, "C": 1.0, "Z": 0.75, "Y": 0.125, "X": 0.125}
    assert spec.units == {"T": "second", "C": None, "Z": "micrometer", "Y": "micrometer", "X": "micrometer"}
    assert open_array(spec)[1, 2, 3, 7, 5] == data[1, 2, 3, 7, 5] == 1151
    with pytest.raises(Noise2StackError, match="does not match the axes TCZYX"):
        inspect_volume(tmp_path / "in.ome.zarr", axes="CTZYX")


def test_written_store_round_trips_and_validates(tmp_path):
    out = tmp_path / "out.zarr"
    create_ome_zarr(
        out,
        "CZYX",
        (2, 5, 130, 140),
        (1, 2, 64, 64),
        {"Z": 0.5, "C": 1.0, "Y": 0.2, "X": 0.25},
        {"Z": "micrometer", "Y": "micrometer", "X": "micrometer"},
    )
    data = np.random.default_rng(0).random((2, 5, 130, 140)).astype(np.float32)
    zarr.open_array(str(out / "0"), mode="r+")[:] = data
    assert write_pyramid(out, min_side=32) == 3  # 130x140 -> 65x70 -> 32x35
    attrs = dict(zarr.open_group(str(out), mode="r").attrs)
    ngff_zarr.validate(attrs, version="0.5", model="image")  # raises if invalid
    multiscales = ngff_zarr.from_ngff_zarr(str(out), validate=True)
    assert [im.dims for im in multiscales.images][0] == ("c", "z", "y", "x")
    assert multiscales.images[1].scale == {"c": 1.0, "z": 0.5, "y": 0.4, "x": 0.5}
    assert multiscales.images[0].axes_units["x"] == "micrometer"
    level1 = np.asarray(multiscales.images[1].data)
    assert np.allclose(level1[1, 3, 10, 20], data[1, 3, 20:22, 40:42].mean(), atol=1e-6)
    spec = inspect_volume(out)
    assert spec.axes == "CZYX" and spec.scale["Z"] == 0.5 and spec.units["Y"] == "micrometer"
    assert np.array_equal(open_array(spec)[:], data)


def test_plain_zarr_array_takes_dimension_names_or_axes(tmp_path):
    zarr.create_array(str(tmp_path / "a.zarr"), shape=(3, 4, 5), dtype="uint8", dimension_names=["t", "y", "x"])
    assert inspect_volume(tmp_path / "a.zarr").axes == "TYX"
    assert inspect_volume(tmp_path / "a.zarr", axes="ZYX").axes == "ZYX"
    zarr.create_array(str(tmp_path / "b.zarr"), shape=(2, 3, 4, 5), dtype="uint8")
    with pytest.raises(Noise2StackError, match="give `axes`"):
        inspect_volume(tmp_path / "b.zarr")


def test_lazy_tiff_names_its_axes(tmp_path):
    tifffile.imwrite(
        tmp_path / "a.tif", np.zeros((2, 3, 4, 8, 9), np.uint16), metadata={"axes": "TCZYX"}, photometric="minisblack"
    )
    spec = inspect_volume(tmp_path / "a.tif")
    assert spec.kind == "tiff" and spec.axes == "TCZYX"


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p.mkdir(), "is not a Zarr array or group"),
        (
            lambda p: zarr.open_group(str(p), mode="w").create_array("raw", shape=(3, 4, 4), dtype="f4"),
            "Zarr group without OME-NGFF multiscales metadata; pass the array inside it",
        ),
        (lambda p: _hand_written_ome(p, "zy"), "without y and x"),
    ],
)
def test_bad_zarr_inputs_are_one_line_errors(tmp_path, make, message):
    make(tmp_path / "bad.zarr")
    with pytest.raises(Noise2StackError, match=message):
        inspect_volume(tmp_path / "bad.zarr")


def test_cli_five_d_ome_zarr_in_and_out_with_one_model_per_channel(tmp_path, capsys):
    """TCZYX in, TCZYX out with axes, voxel sizes and units; channel c uses MODEL/channel-c."""
    import torch

    from noise2stack.config import make_config
    from noise2stack.data.normalize import Normalizer
    from noise2stack.model import Model

    def make_model(folder, seed):
        torch.manual_seed(seed)
        Model(make_config(neighbors=4), Normalizer("percentile", 10.0, 110.0)).save(folder)

    data = (np.random.default_rng(1).random((2, 2, 7, 20, 18)) * 100 + 10).astype(np.float32)
    write_ome(tmp_path / "in.ome.zarr", data, "tczyx")
    models = tmp_path / "models"
    for c in range(2):
        make_model(models / f"channel-{c}", seed=10 + c)
    out = tmp_path / "out.zarr"
    with pytest.raises(SystemExit) as code:
        main(
            [
                "predict",
                str(models),
                str(tmp_path / "in.ome.zarr"),
                str(out),
                "--chunk-planes",
                "3",
                "--pyramid",
                "--quiet",
            ]
        )
    assert code.value.code == 0
    multiscales = ngff_zarr.from_ngff_zarr(str(out), validate=True)
    image = multiscales.images[0]
    assert image.dims == ("t", "c", "z", "y", "x")
    assert image.scale == SCALE and image.axes_units == {**UNITS, "c": None}
    result = np.asarray(image.data)
    for t in range(2):
        for c in range(2):
            expected = api.predict(models / f"channel-{c}", data[t, c], axes="ZYX", progress=False)
            assert np.array_equal(result[t, c], expected)
    assert not np.array_equal(result[0, 0], api.predict(models / "channel-1", data[0, 0], axes="ZYX", progress=False))
    # the same command again: the store is complete, refused, left as it was
    mtime = (out / "zarr.json").stat().st_mtime_ns
    with pytest.raises(SystemExit) as code:
        main(["predict", str(models), str(tmp_path / "in.ome.zarr"), str(out), "--chunk-planes", "3", "--quiet"])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "finished prediction; pass --overwrite" in err
    assert (out / "zarr.json").stat().st_mtime_ns == mtime
