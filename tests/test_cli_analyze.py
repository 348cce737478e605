"""`noise2stack analyze`: the JSON contract, the readable summary, copy mode, bad input (one line, exit 2)."""

import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def stacks(tmp_path):
    rng = np.random.default_rng(0)
    clean = ndimage.gaussian_filter(rng.normal(size=(16, 64, 64)), (2, 3, 3))
    clean = 10 + 200 * (clean - clean.min()) / (clean.max() - clean.min())
    for name, seed in (("noisy", 1), ("copy", 2)):
        tifffile.imwrite(
            tmp_path / f"{name}.tif", (clean + np.random.default_rng(seed).normal(0, 8, clean.shape)).astype(np.float32)
        )
    return tmp_path


def test_json_contract(stacks):
    r = run("analyze", stacks / "noisy.tif", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)  # exactly one JSON object
    rec = result["recommendation"]
    assert set(rec) == {"method", "mode", "neighbors", "reason", "blindspot_shape", "blindspot_length"}
    assert (rec["method"], rec["mode"], rec["neighbors"]) == ("n2stack", "self", 4)
    assert (rec["blindspot_shape"], rec["blindspot_length"]) == ("pixel", 1)  # white noise
    autocorrelation = result["noise_autocorrelation"]
    assert set(autocorrelation) == {"y", "x"} and set(autocorrelation["x"]) == {"1", "2", "3", "4"}
    assert all(abs(r) < 0.1 for axis in autocorrelation.values() for r in axis.values())
    assert isinstance(rec["reason"], str) and "independent" in rec["reason"]
    assert set(result["neighbor_predictability_db"]) == {"1", "2", "3"}
    assert all(isinstance(v, float) for v in result["neighbor_predictability_db"].values())
    assert result["neighbor_predictability_db"]["1"] > result["neighbor_predictability_db"]["3"]
    assert isinstance(result["noise_correlation"], float) and abs(result["noise_correlation"]) < 0.1
    noise = result["noise"]
    assert isinstance(noise["fits"], bool) and noise["variance"] == pytest.approx(64.0, rel=0.15)
    assert {"gain", "read_noise_variance"} <= set(noise)


def test_copy_recommends_copy_mode(stacks):
    result = json.loads(run("analyze", stacks / "noisy.tif", "--target", stacks / "copy.tif", "--json").output)
    assert result["recommendation"]["method"] == "n2stack" and result["recommendation"]["mode"] == "copy"
    assert result["noise"]["source"] == "copy"


def test_summary_is_readable(stacks):
    r = run("analyze", stacks / "noisy.tif")
    assert r.exit_code == 0, r.output
    assert "recommendation: noise2stack train --method n2stack --mode self --neighbors 4" in r.output
    assert "noise correlation between neighbouring planes" in r.output and "{" not in r.output


def test_noise_correlated_along_rows_calls_for_a_horizontal_line(tmp_path):
    """Gaussian noise smoothed along X by a 3-pixel box: autocorrelation 2/3, 1/3, 0 at lags 1, 2, 3."""
    rng = np.random.default_rng(3)
    clean = 100 + 50 * ndimage.gaussian_filter(rng.normal(size=(96, 96)), 4)
    noise = ndimage.uniform_filter1d(rng.normal(0, 8 * np.sqrt(3), size=(96, 96)), 3, axis=1)
    tifffile.imwrite(tmp_path / "plane.tif", (clean + noise).astype(np.float32))
    result = json.loads(run("analyze", tmp_path / "plane.tif", "--json").output)
    rec = result["recommendation"]
    assert (rec["method"], rec["blindspot_shape"], rec["blindspot_length"]) == ("n2v", "horizontal", 5)
    assert "correlated along rows" in rec["reason"]
    summary = run("analyze", tmp_path / "plane.tif").output
    assert "--method n2v --mode self --n2v-struct horizontal --n2v-struct-length 5" in summary
    assert "noise autocorrelation within planes" in summary


def test_figure_is_written_and_never_over_an_input(stacks):
    r = run("analyze", stacks / "noisy.tif", "--figure", stacks / "analysis.png")
    assert r.exit_code == 0, r.output
    assert (stacks / "analysis.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = (stacks / "noisy.tif").read_bytes()
    for bad, message in ((stacks / "noisy.tif", "png"), (stacks / "noisy.png", None)):
        if message is None:  # a PNG path that is the input itself
            (stacks / "noisy.png").write_bytes(b"x")
            r = run("analyze", stacks / "noisy.png", "--figure", stacks / "noisy.png")
        else:
            r = run("analyze", stacks / "noisy.tif", "--figure", bad)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert (stacks / "noisy.tif").read_bytes() == before and (stacks / "noisy.png").read_bytes() == b"x"


def test_api_equals_cli(stacks):
    from_api = api.analyze(stacks / "noisy.tif")
    from_cli = json.loads(run("analyze", stacks / "noisy.tif", "--json").output)
    assert from_cli["neighbor_predictability_db"] == from_api["neighbor_predictability_db"]


@pytest.mark.parametrize("case", ["missing", "target_shape", "constant", "tiny_planes", "bad_axes"])
def test_bad_input_one_line_exit_2(stacks, case):
    d = stacks
    tifffile.imwrite(d / "small.tif", np.ones((16, 32, 32), np.float32))
    tifffile.imwrite(
        d / "tiny.tif", np.random.default_rng(0).normal(size=(4, 5, 5)).astype(np.float32), photometric="minisblack"
    )
    args = {
        "missing": [d / "nope.tif"],
        "target_shape": [d / "noisy.tif", "--target", d / "small.tif"],
        "constant": [d / "small.tif"],
        "tiny_planes": [d / "tiny.tif"],
        "bad_axes": [d / "noisy.tif", "--axes", "ZQX"],
    }[case]
    r = run("analyze", *args, "--json")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("noise2stack: error: ")
