import sys

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack.cli import app
from noise2stack.errors import Noise2StackError
from noise2stack.filters import average_neighbors, denoise_stack, estimate_noise_sigma
from noise2stack.io.stacks import read_stack

runner = CliRunner()


@pytest.fixture(scope="module")
def em(shared_data):
    clean = read_stack(shared_data / "em_isbi2012_sstem" / "train_volume_zyx.tif")[:2, 100:228, 100:228].astype(
        np.float32
    )
    noisy = clean + np.random.default_rng(0).normal(0, 20, clean.shape).astype(np.float32)
    return clean, noisy


def test_average_neighbors_by_hand():
    stack = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 2), np.float32)
    np.testing.assert_allclose(average_neighbors(stack, 1)[:, 0, 0], [0.5, 1, 2, 3, 3.5])
    np.testing.assert_allclose(average_neighbors(stack, 2)[:, 0, 0], [1, 1.5, 2, 2.5, 3])


def test_sigma_estimate_is_close_to_the_truth(em):
    _, noisy = em
    assert estimate_noise_sigma(noisy[0]) == pytest.approx(20, rel=0.25)


@pytest.mark.parametrize("method", ["nlm", "median", "gaussian", "bm3d"])
def test_filters_lower_the_error_of_a_noisy_image(em, method):
    if method == "bm3d":
        pytest.importorskip("bm3d")
    clean, noisy = em
    out = denoise_stack(noisy, method, sigma=20.0 if method in ("nlm", "bm3d") else None, workers=1)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.mean((out - clean) ** 2) < 0.7 * np.mean((noisy - clean) ** 2)


def test_parallel_equals_serial(em):
    _, noisy = em
    np.testing.assert_array_equal(denoise_stack(noisy, "nlm", workers=2), denoise_stack(noisy, "nlm", workers=1))


def test_missing_bm3d_gives_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # import bm3d now raises ImportError
    tifffile.imwrite(tmp_path / "n.tif", np.random.default_rng(0).random((2, 16, 16)).astype(np.float32))
    r = runner.invoke(app, ["denoise", str(tmp_path / "n.tif"), str(tmp_path / "o.tif"), "--method", "bm3d"])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "noise2stack: error: BM3D needs the optional package bm3d (non-commercial licence): pip install 'noise2stack[bm3d]'"
    ]
    assert not (tmp_path / "o.tif").exists()


def test_denoise_cli_on_a_2d_image(tmp_path):
    image = np.random.default_rng(0).random((24, 20)).astype(np.float32)
    tifffile.imwrite(tmp_path / "i.tif", image)
    r = runner.invoke(
        app, ["denoise", str(tmp_path / "i.tif"), str(tmp_path / "o.tif"), "--method", "median", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    from scipy import ndimage

    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o.tif"), ndimage.median_filter(image, 3, mode="reflect"))


def test_unknown_filter():
    with pytest.raises(Noise2StackError, match="unknown filter"):
        denoise_stack(np.zeros((1, 4, 4)), "wiener")
