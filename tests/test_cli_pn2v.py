import pickle

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack.cli import app
from noise2stack.noise import add_noise
from noise2stack.noise.histogram import HistogramNoiseModel

runner = CliRunner()
TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "2", "--samples", "8", "--quiet"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, text):
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "noise2stack: error:" in result.output and text in result.output


@pytest.fixture
def files(tmp_path, tiny_stack):
    clean = tiny_stack
    tifffile.imwrite(tmp_path / "clean.tif", clean)
    tifffile.imwrite(tmp_path / "noisy.tif", add_noise(clean, "poisson-gaussian", sigma=3, peak=60, seed=1))
    tifffile.imwrite(tmp_path / "noisy2.tif", add_noise(clean, "poisson-gaussian", sigma=3, peak=60, seed=2))
    return tmp_path


def test_noise_model_train_predict_uncertainty(files):
    t = files
    r = run(
        "noise-model",
        t / "nm.npz",
        "--signal",
        t / "clean.tif",
        "--observation",
        t / "noisy2.tif",
        "--plot",
        t / "nm.png",
    )
    assert r.exit_code == 0, r.output
    assert HistogramNoiseModel.load(t / "nm.npz").provenance["made_from"] == "pairs"
    assert (t / "nm.png").read_bytes()[:4] == b"\x89PNG"
    r = run(
        "train",
        t / "noisy.tif",
        "--out",
        t / "m",
        "--method",
        "pn2stack",
        "--noise-model",
        t / "nm.npz",
        "--clip",
        *TINY,
    )
    assert r.exit_code == 0, r.output
    r = run("predict", t / "m", t / "noisy.tif", t / "out.tif", "--uncertainty", t / "std.tif", "--quiet")
    assert r.exit_code == 0, r.output
    out, std = tifffile.imread(t / "out.tif"), tifffile.imread(t / "std.tif")
    assert out.shape == std.shape == (7, 40, 36) and np.isfinite(out).all() and (std >= 0).all() and std.max() > 0


def test_calibration_and_estimate(files):
    t = files
    calibration = np.stack(
        [add_noise(np.full((32, 32), v, np.float32), "gaussian", sigma=2, seed=i) for i, v in enumerate([50] * 5)]
    )
    tifffile.imwrite(t / "calib.tif", calibration)
    assert run("noise-model", t / "c.npz", "--calibration", t / "calib.tif").exit_code == 0
    r = run("noise-model", t / "e.npz", "--estimate-from", t / "noisy.tif")
    assert r.exit_code == 0, r.output
    assert HistogramNoiseModel.load(t / "e.npz").provenance["made_from"] == "poisson-gaussian"


def test_bad_input(files):
    t = files
    one_line_error(run("train", t / "noisy.tif", "--out", t / "m", "--method", "pn2v", *TINY), "needs --noise-model")
    tifffile.imwrite(t / "small.tif", np.zeros((7, 20, 36), np.float32))
    r = run("noise-model", t / "nm.npz", "--signal", t / "clean.tif", "--observation", t / "small.tif")
    one_line_error(r, "must match")
    tifffile.imwrite(t / "oneplane.tif", np.zeros((32, 32), np.float32))
    one_line_error(run("noise-model", t / "nm.npz", "--calibration", t / "oneplane.tif"), "at least 2")
    (t / "pickled.npz").write_bytes(pickle.dumps({"a": 1}))
    one_line_error(
        run("train", t / "noisy.tif", "--out", t / "m", "--method", "pn2v", "--noise-model", t / "pickled.npz", *TINY),
        "pickled",
    )
    np.savez(t / "neg.npz", probabilities=-np.ones((256, 256)), low=0.0, high=1.0)
    one_line_error(
        run("train", t / "noisy.tif", "--out", t / "m", "--method", "pn2v", "--noise-model", t / "neg.npz", *TINY),
        "negative",
    )
    np.savez(t / "shape.npz", probabilities=np.ones((8, 256)), low=0.0, high=1.0)
    one_line_error(
        run("train", t / "noisy.tif", "--out", t / "m", "--method", "pn2v", "--noise-model", t / "shape.npz", *TINY),
        "256x256",
    )
    HistogramNoiseModel(np.eye(256), 20.0, 60.0).save(t / "narrow.npz")
    r = run("train", t / "noisy.tif", "--out", t / "m", "--method", "pn2v", "--noise-model", t / "narrow.npz", *TINY)
    one_line_error(r, "pass --clip")
    assert not (t / "m").exists() and not (t / "nm.npz").exists()
