"""--channels separate | joint with a C axis: training, in-memory and chunked prediction, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
import yaml
import zarr

from noise2stack import api
from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.io.zarr_io import inspect_volume
from noise2stack.model import Model
from noise2stack.predict.chunked import predict_volume

FAST = dict(epochs=1, steps_per_epoch=3, batch=2, patch=16, val_patches=2)


def two_channels(seed=0, shape=(9, 24, 20)):
    """A CZYX stack whose channels share structure (a blob) at different intensities, with noise."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    blob = np.exp(-(z**2 + y**2 + x**2) * 3)
    clean = np.stack([100 + 400 * blob, 20 + 40 * blob])
    return (clean + rng.normal(0, [[[[20]]], [[[4]]]], clean.shape)).astype(np.float32)


def joint_model(folder, neighbors=2, seed=0):
    torch.manual_seed(seed)
    config = make_config(neighbors=neighbors, joint_channels=2, axes="CZYX")
    model = Model(config, Normalizer("percentile", (10.0, 5.0), (110.0, 60.0)))
    model.save(folder)
    return folder


def test_joint_training_writes_a_two_channel_model_that_predicts_in_the_input_axes(tmp_path):
    czyx = two_channels()
    model = api.train(czyx, tmp_path / "m", axes="CZYX", channels="joint", progress=False, **FAST)
    assert model.config.data.joint_channels == 2 and model.net.in_channels == 4 and model.net.out_channels == 2
    saved = yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())
    assert saved["data"]["joint_channels"] == 2 and saved["data"]["axes"] == "CZYX"
    tifffile.imwrite(tmp_path / "in.tif", czyx, metadata={"axes": "CZYX"}, photometric="minisblack")
    api.predict(tmp_path / "m", tmp_path / "in.tif", tmp_path / "out.tif", progress=False)
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == czyx.shape
    # each output channel is in its own channel's units (per-channel normalisation undone)
    assert abs(out[0].mean() - czyx[0].mean()) < abs(out[0].mean() - czyx[1].mean())
    assert abs(out[1].mean() - czyx[1].mean()) < abs(out[1].mean() - czyx[0].mean())


def test_joint_prediction_sees_the_other_channel_and_separate_does_not(tmp_path):
    folder = joint_model(tmp_path / "joint")
    zcyx = np.moveaxis(two_channels(1), 0, 1).copy()
    base = api.predict(folder, zcyx, axes="ZCYX", progress=False)
    changed = zcyx.copy()
    changed[:, 1] += 50.0
    moved = api.predict(folder, changed, axes="ZCYX", progress=False)
    assert not np.allclose(moved[:, 0], base[:, 0])  # channel 0's output depends on channel 1's input
    # one single-channel model for all channels (separate): channel 0 does not move
    torch.manual_seed(0)
    Model(make_config(neighbors=2), Normalizer("percentile", 10.0, 110.0)).save(tmp_path / "single")
    sep = api.predict(tmp_path / "single", zcyx, axes="ZCYX", progress=False)
    sep_moved = api.predict(tmp_path / "single", changed, axes="ZCYX", progress=False)
    np.testing.assert_array_equal(sep[:, 0], sep_moved[:, 0])
    np.testing.assert_array_equal(sep[:, 1], api.predict(tmp_path / "single", zcyx[:, 1], axes="ZYX", progress=False))


def test_separate_training_makes_one_model_per_channel_used_by_predict(tmp_path):
    czyx = two_channels(2)
    models = api.train(czyx, tmp_path / "m", axes="CZYX", channels="separate", progress=False, **FAST)
    assert [m.folder.name for m in models] == ["channel-0", "channel-1"]
    assert all(m.config.data.axes == "ZYX" and m.config.data.joint_channels == 1 for m in models)
    out = api.predict(tmp_path / "m", czyx, axes="CZYX", progress=False)
    for c in range(2):
        np.testing.assert_array_equal(
            out[:, c], api.predict(tmp_path / "m" / f"channel-{c}", czyx[c], axes="ZYX", progress=False)
        )


def test_chunked_joint_equals_in_memory_for_odd_sizes(tmp_path):
    folder = joint_model(tmp_path / "joint", neighbors=4)
    czyx = two_channels(3, shape=(11, 37, 29))
    src = tmp_path / "in.zarr"
    zarr.create_array(
        str(src), shape=czyx.shape, chunks=(1, 4, 16, 16), dtype="float32", dimension_names=["c", "z", "y", "x"]
    )[:] = czyx
    out = tmp_path / "out.zarr"
    predict_volume([folder], inspect_volume(src), out, chunk_planes=3, scheduler="synchronous", progress=False)
    result = zarr.open_array(str(out / "0"), mode="r")[:]
    expected = api.predict(folder, czyx, axes="CZYX", progress=False)
    np.testing.assert_array_equal(result, np.moveaxis(expected, 1, 0))


def test_bad_channel_requests_are_one_line_errors(tmp_path):
    czyx = two_channels()
    with pytest.raises(Noise2StackError, match="needs a channel axis"):
        api.train(czyx[0], tmp_path / "a", channels="joint", progress=False, **FAST)
    with pytest.raises(Noise2StackError, match="unknown `channels`"):
        api.train(czyx, tmp_path / "b", axes="CZYX", channels="both", progress=False, **FAST)
    with pytest.raises(Noise2StackError, match="one-plane-out"):
        api.train(czyx, tmp_path / "c", axes="CZYX", channels="joint", method="nrrn", progress=False, **FAST)
    folder = joint_model(tmp_path / "joint")
    three = np.concatenate([czyx, czyx[:1]])
    with pytest.raises(Noise2StackError, match="2 channels jointly"):
        api.predict(folder, three, axes="CZYX", progress=False)
    src = tmp_path / "in.zarr"
    zarr.create_array(
        str(src), shape=czyx.shape, chunks=(1, 4, 16, 16), dtype="float32", dimension_names=["c", "z", "y", "x"]
    )[:] = czyx
    with pytest.raises(Noise2StackError, match="trained on 2 channels jointly"):
        api.predict(folder, src, tmp_path / "o.zarr", channels="separate", progress=False)
    assert not (tmp_path / "o.zarr").exists()


def test_predict_channels_flag_must_match_the_model(tmp_path):
    folder = joint_model(tmp_path / "joint")
    torch.manual_seed(0)
    Model(make_config(neighbors=2), Normalizer("percentile", 10.0, 110.0)).save(tmp_path / "single")
    czyx = two_channels()
    with pytest.raises(Noise2StackError, match="trained on one channel at a time"):
        api.predict(tmp_path / "single", czyx, axes="CZYX", channels="joint", progress=False)
    with pytest.raises(Noise2StackError, match="trained on 2 channels jointly"):
        api.predict(folder, czyx, axes="CZYX", channels="separate", progress=False)
    with pytest.raises(Noise2StackError, match="unknown `channels`"):
        api.predict(folder, czyx, axes="CZYX", channels="all", progress=False)
