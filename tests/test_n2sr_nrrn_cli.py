"""Noise2SR and NRRN through the CLI: train a few steps, save, load, predict; tiled equals untiled."""

import json

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack.cli import app

TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "2", "--quiet"]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _noisy(shape, seed=0):
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    clean = 100 * np.exp(-((y - shape[1] / 2 - z) ** 2 + (x % 40 - 20) ** 2) / 80.0) + 10
    return (clean + np.random.default_rng(seed).normal(0, 8, shape)).astype(np.float32)


@pytest.fixture(scope="module")
def n2sr_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("n2sr")
    tifffile.imwrite(d / "stack.tif", _noisy((3, 40, 36)), photometric="minisblack")
    tifffile.imwrite(d / "image.tif", _noisy((1, 40, 200))[0])  # a single 2-D image, wider than a tile
    r = run("train", d / "image.tif", "--out", d / "model", "--method", "n2sr", "--axes", "YX", *TINY)
    assert r.exit_code == 0, r.output
    return d


def test_n2sr_trains_on_a_2d_image_and_predicts_stacks_plane_by_plane(n2sr_model):
    d = n2sr_model
    config = (d / "model" / "config.yaml").read_text()
    assert "method: n2sr" in config and "net: n2sr-unet" in config
    r = run("predict", d / "model", d / "stack.tif", d / "den.tif", "--axes", "ZYX", "--quiet")
    assert r.exit_code == 0, r.output
    den = tifffile.imread(d / "den.tif")
    assert den.shape == (3, 40, 36)
    r = run("predict", d / "model", d / "stack.tif", d / "sr.tif", "--axes", "ZYX", "--output-scale", "2", "--quiet")
    assert r.exit_code == 0, r.output
    sr = tifffile.imread(d / "sr.tif")
    assert sr.shape == (3, 80, 72)
    # the default is the paper's path: the denoised plane is the bilinear half (= 2x2 mean) of the super-resolved one
    np.testing.assert_allclose(sr.reshape(3, 40, 2, 36, 2).mean(axis=(2, 4)), den, rtol=1e-5, atol=1e-3)
    outs = {}
    for path in ("polyphase", "mean"):
        out = d / f"{path}.tif"
        r = run("predict", d / "model", d / "stack.tif", out, "--axes", "ZYX", "--sr-inference", path, "--quiet")
        assert r.exit_code == 0, r.output
        outs[path] = tifffile.imread(out)
    assert np.abs(outs["polyphase"] - den).max() > 1e-2  # another estimate
    # the mean of the two (exact in tests/nets; here the plane is padded to the polyphase grid of 8 px,
    # which moves the paper's half near the right edge, 36 px not being a multiple of 8)
    np.testing.assert_allclose(outs["mean"][..., :32], (outs["polyphase"] + den)[..., :32] / 2, rtol=1e-5, atol=1e-3)
    # plane by plane: a plane alone gives the same result as inside the stack
    tifffile.imwrite(d / "plane1.tif", tifffile.imread(d / "stack.tif")[1])
    r = run("predict", d / "model", d / "plane1.tif", d / "den1.tif", "--axes", "YX", "--quiet")
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(tifffile.imread(d / "den1.tif"), den[1], rtol=1e-5, atol=1e-3)


def test_n2sr_tiled_equals_untiled_blend_and_cut(n2sr_model):
    d = n2sr_model
    outs = {}
    for name, extra in {
        "whole": ["--tile", "512"],
        "blend": ["--tile", "128"],
        "cut": ["--tile", "128", "--stitch", "cut"],
        "sr_whole": ["--output-scale", "2"],
        "sr_blend": ["--output-scale", "2", "--tile", "32", "--overlap", "8"],
        "sr_cut": ["--output-scale", "2", "--tile", "64", "--stitch", "cut"],
    }.items():
        r = run("predict", d / "model", d / "image.tif", d / f"{name}.tif", "--axes", "YX", "--quiet", *extra)
        assert r.exit_code == 0, r.output
        outs[name] = tifffile.imread(d / f"{name}.tif")
    assert outs["whole"].shape == (40, 200) and outs["sr_whole"].shape == (80, 400)
    scale = np.abs(outs["whole"]).max()
    for name in ("blend", "cut"):
        np.testing.assert_allclose(outs[name], outs["whole"], atol=1e-5 * scale)
    for name in ("sr_blend", "sr_cut"):
        np.testing.assert_allclose(outs[name], outs["sr_whole"], atol=1e-5 * scale)


def test_n2sr_output_scale_refused_for_other_methods(tmp_path, n2sr_model):
    d = n2sr_model
    r = run("train", d / "stack.tif", "--out", tmp_path / "n2v", "--method", "n2v", *TINY)
    assert r.exit_code == 0, r.output
    r = run("predict", tmp_path / "n2v", d / "stack.tif", tmp_path / "x.tif", "--output-scale", "2", "--quiet")
    assert r.exit_code == 2 and "scale 1" in r.output and not (tmp_path / "x.tif").exists()


@pytest.fixture(scope="module")
def nrrn_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("nrrn")
    tifffile.imwrite(d / "stack.tif", _noisy((5, 40, 120)))
    r = run("train", d / "stack.tif", "--out", d / "model", "--method", "nrrn", "--units", "1", *TINY)
    assert r.exit_code == 0, r.output
    return d


def test_nrrn_trains_saves_loads_and_predicts(nrrn_model):
    d = nrrn_model
    config = (d / "model" / "config.yaml").read_text()
    assert "units: 1" in config and "lr: 0.001" in config and "neighbors: 2" in config
    outs = {}
    for name, extra in {
        "whole": ["--tile", "512"],
        "blend": ["--tile", "60"],
        "cut": ["--tile", "30", "--stitch", "cut"],
        "two": ["--images", "2"],
        "one": ["--images", "1"],
    }.items():
        r = run("predict", d / "model", d / "stack.tif", d / f"{name}.tif", "--quiet", *extra)
        assert r.exit_code == 0, r.output
        outs[name] = tifffile.imread(d / f"{name}.tif")
    scale = np.abs(outs["whole"]).max()
    np.testing.assert_allclose(outs["blend"], outs["whole"], atol=1e-5 * scale)
    np.testing.assert_allclose(outs["cut"], outs["whole"], atol=1e-5 * scale)
    assert np.abs(outs["two"] - outs["whole"]).max() > 1e-3 and np.abs(outs["one"] - outs["two"]).max() > 1e-3
    meta = json.loads(tifffile.TiffFile(d / "two.tif").pages[0].description)
    assert meta["images"] == 2 and meta["method"] == "nrrn"


def test_nrrn_save_units_writes_one_tiff_per_unit(nrrn_model, tmp_path):
    d = nrrn_model
    r = run(
        "predict", d / "model", d / "stack.tif", tmp_path / "den.tif", "--save-units", tmp_path / "units", "--quiet"
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == ["unit_1.tif"]
    unit = tifffile.imread(tmp_path / "units" / "unit_1.tif")
    assert unit.shape == (5, 40, 120) and np.abs(unit - tifffile.imread(tmp_path / "den.tif")).max() > 0
    r = run(
        "predict", d / "model", d / "stack.tif", tmp_path / "den2.tif", "--save-units", tmp_path / "units", "--quiet"
    )
    assert r.exit_code == 2 and "--overwrite" in r.output and not (tmp_path / "den2.tif").exists()


def test_nrrn_refuses_other_options(nrrn_model, tmp_path):
    d = nrrn_model
    r = run("train", d / "stack.tif", "--out", tmp_path / "m", "--method", "nrrn", "--neighbors", "4", *TINY)
    assert r.exit_code == 2 and "--neighbors 2" in r.output
    r = run("predict", d / "model", d / "stack.tif", tmp_path / "x.tif", "--images", "4", "--quiet")
    assert r.exit_code == 2 and "1, 2 or 3" in r.output
    r = run("predict", d / "model", d / "stack.tif", tmp_path / "x.tif", "--stitch", "sew", "--quiet")
    assert r.exit_code == 2 and "blend or cut" in r.output
    assert not (tmp_path / "x.tif").exists()


def test_n2sr_output_scale_2_is_one_tiled_pass_equal_to_the_network_on_the_whole_plane(n2sr_model):
    import torch

    from noise2stack import api

    d = n2sr_model
    model = api.load_model(d / "model")
    stack = tifffile.imread(d / "stack.tif")
    windows = {}
    for scale in (1, 2):
        calls = []
        hook = model.net.register_forward_hook(lambda module, args, output: calls.append(output.shape))  # noqa: B023 (removed below)
        try:
            out = api.predict(model, stack, axes="ZYX", output_scale=scale, tile=16, overlap=4, progress=False)
        finally:
            hook.remove()
        windows[scale] = len(calls)
    with torch.inference_mode():
        whole = model.net(torch.from_numpy(model.normalizer.normalize(stack))[:, None])[:, 0].numpy()
    np.testing.assert_allclose(out, model.normalizer.denormalize(whole), atol=1e-5 * np.abs(out).max())
    # the 2x output costs what the 1x does: each window goes through the network once, not once per phase
    assert windows[1] > 3 and windows[2] == windows[1]


def test_n2sr_refuses_an_unknown_inference_path_and_a_scale_1_path_at_scale_2(n2sr_model, tmp_path):
    d = n2sr_model
    r = run("predict", d / "model", d / "stack.tif", tmp_path / "x.tif", "--sr-inference", "blur", "--quiet")
    assert r.exit_code == 2 and "paper, polyphase or mean" in r.output
    r = run(
        "predict", d / "model", d / "stack.tif", tmp_path / "x.tif", "--sr-inference", "mean",
        "--output-scale", "2", "--quiet",
    )  # fmt: skip
    assert r.exit_code == 2 and "scale 1" in r.output
    assert not (tmp_path / "x.tif").exists()
    # a method without the option refuses it too
    r = run("train", d / "stack.tif", "--out", tmp_path / "n2v", "--method", "n2v", *TINY)
    assert r.exit_code == 0, r.output
    r = run("predict", tmp_path / "n2v", d / "stack.tif", tmp_path / "y.tif", "--sr-inference", "paper", "--quiet")
    assert r.exit_code == 2 and "sr" in r.output.lower()
