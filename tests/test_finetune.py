"""train --init: start from a trained model's weights (same method and net), record where from."""

import json

import numpy as np
import pytest
import tifffile
import yaml
from safetensors.numpy import load_file
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app
from noise2stack.model import file_sha256

TINY = dict(epochs=1, steps_per_epoch=2, patch=16, batch=2, progress=False)
TINY_CLI = ["--epochs", "1", "--steps-per-epoch", "1", "--patch", "16", "--batch", "2", "--quiet"]


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    d = tmp_path_factory.mktemp("ft")
    y, x = np.mgrid[0:40, 0:36]
    stack = np.stack([100 * np.exp(-((y - 20 - z) ** 2 + (x - 18) ** 2) / 60.0) + 10 for z in range(7)]).astype(
        np.float32
    )
    stack += np.random.default_rng(0).normal(0, 5, stack.shape).astype(np.float32)
    tifffile.imwrite(d / "a.tif", stack)
    tifffile.imwrite(d / "b.tif", 3 * stack[::-1] + 50)  # other intensities: other normalisation
    api.train(d / "a.tif", d / "n2v", method="n2v", **TINY)
    return d


def test_refused_for_another_method_with_one_line_naming_both(start):
    r = CliRunner().invoke(
        app,
        [
            "train",
            str(start / "b.tif"),
            "--out",
            str(start / "x"),
            "--init",
            str(start / "n2v"),
            "--method",
            "n2stack",
            *TINY_CLI,
        ],
    )
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "--method n2v" in lines[0] and "--method n2stack" in lines[0]
    assert not (start / "x").exists()


def test_refused_for_another_net(start):
    r = CliRunner().invoke(
        app,
        [
            "train",
            str(start / "b.tif"),
            "--out",
            str(start / "y"),
            "--init",
            str(start / "n2v"),
            "--net",
            "n2n-unet",
            *TINY_CLI,
        ],
    )
    assert r.exit_code == 2 and "--net csbdeep-unet" in r.output and "--net n2n-unet" in r.output
    assert not (start / "y").exists()


def test_fine_tuned_model_records_its_start_and_keeps_the_normalisation(start):
    r = CliRunner().invoke(
        app, ["train", str(start / "b.tif"), "--out", str(start / "ft"), "--init", str(start / "n2v"), *TINY_CLI]
    )
    assert r.exit_code == 0, r.output
    config = yaml.safe_load((start / "ft" / "config.yaml").read_text())
    assert config["algorithm"]["method"] == "n2v"  # inherited from the starting model
    assert config["training"]["init_from"] == {
        "path": str((start / "n2v").resolve()),
        "sha256": file_sha256(start / "n2v" / "weights.safetensors"),
    }
    norm = lambda name: json.loads((start / name / "normalization.json").read_text())  # noqa: E731
    assert norm("ft") == norm("n2v")
    r = CliRunner().invoke(
        app,
        [
            "train",
            str(start / "b.tif"),
            "--out",
            str(start / "ft2"),
            "--init",
            str(start / "n2v"),
            "--renormalize",
            *TINY_CLI,
        ],
    )
    assert r.exit_code == 0, r.output
    assert norm("ft2") != norm("n2v")


def test_training_starts_from_the_given_weights(start):
    # with a vanishing learning rate one step cannot move the weights: the result is the start
    api.train(start / "b.tif", start / "same", init=start / "n2v", lr=1e-12, **TINY)
    api.train(start / "b.tif", start / "scratch", method="n2v", lr=1e-12, seed=5, **TINY)
    given = load_file(str(start / "n2v" / "weights.safetensors"))
    tuned = load_file(str(start / "same" / "weights.safetensors"))
    scratch = load_file(str(start / "scratch" / "weights.safetensors"))
    for key in given:
        np.testing.assert_allclose(tuned[key], given[key], atol=1e-8)
    assert max(np.abs(scratch[k] - given[k]).max() for k in given) > 1e-2


def test_renormalize_needs_init(start):
    from noise2stack.errors import Noise2StackError

    with pytest.raises(Noise2StackError, match="only applies with `init`"):
        api.train(start / "b.tif", start / "z", method="n2v", renormalize=True, **TINY)
