"""Noise2Stack `--mode blindspot` as a method: its config, its refusals, every frame out."""

import numpy as np
import pytest
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app
from noise2stack.config import make_config
from noise2stack.errors import Noise2StackError
from noise2stack.methods import get_method
from noise2stack.nets.blindspot import BlindSpotStackNet

TINY = dict(progress=False, epochs=1, steps_per_epoch=2, patch=16, batch=2, val_patches=2, seed=0)


def test_the_method_builds_a_blind_spot_net_around_plane_i():
    config = make_config(
        method="n2stack", mode="blindspot", neighbors=4, blindspot_shape="vertical", blindspot_length=3
    )
    method = get_method("n2stack")
    assert method.include_center(config) and method.target_kind(config) == "self"
    assert method.residual_channels(config) == [1, 3]  # i-1 and i+1; channel 2 is plane i
    assert method.net_options(config) == {"blindspot_center": 2, "blindspot_shape": "vertical", "blindspot_length": 3}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"method": "n2stack", "mode": "blindspot", "neighbors": 0}, "neighbors"),
        ({"method": "n2v", "mode": "blindspot"}, "mode"),
        ({"method": "n2stack", "mode": "blindspot", "blindspot_length": 4}, "odd"),
        ({"method": "n2stack", "mode": "blindspot", "blindspot_shape": "diagonal"}, "blindspot_shape"),
        ({"method": "n2v", "n2v_struct": "horizontal", "n2v_struct_length": 2}, "odd"),
    ],
)
def test_contradictions_are_refused(options, message, tmp_path):
    stack = np.random.default_rng(0).random((6, 24, 24)).astype(np.float32)
    with pytest.raises(Noise2StackError, match=message):
        api.train(stack, tmp_path / "m", **options, **TINY)
    assert not (tmp_path / "m").exists()


def test_a_time_lapse_keeps_every_frame_and_the_cli_flags_reach_the_model(tmp_path):
    movie = np.random.default_rng(1).random((7, 24, 28)).astype(np.float32)
    np.save(tmp_path / "movie.npy", movie)
    r = CliRunner().invoke(
        app,
        [
            "train", str(tmp_path / "movie.npy"), "--out", str(tmp_path / "m"), "--axes", "TYX", "--mode", "blindspot",
            "--blindspot-shape", "horizontal", "--blindspot-length", "3", "--epochs", "1", "--steps-per-epoch", "2",
            "--patch", "16", "--batch", "2",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    model = api.load_model(tmp_path / "m")
    assert isinstance(model.net, BlindSpotStackNet) and model.net.shifts == (1, 2)
    assert (model.config.algorithm.blindspot_shape, model.config.algorithm.blindspot_length) == ("horizontal", 3)
    out = api.predict(tmp_path / "m", tmp_path / "movie.npy", progress=False)
    assert out.shape == movie.shape  # no frame dropped at either end
    assert np.all(np.isfinite(out))


def test_struct_masks_train_noise2void(tmp_path):
    stack = np.random.default_rng(2).random((4, 24, 24)).astype(np.float32)
    model = api.train(stack, tmp_path / "m", method="n2v", n2v_struct="both", n2v_struct_length=3, **TINY)
    assert (model.config.algorithm.struct, model.config.algorithm.struct_length) == ("both", 3)
