"""k-space undersampling (paper 000 §2.3) and the spectral post-processing."""

import numpy as np
import pytest

from noise2stack.errors import Noise2StackError
from noise2stack.noise.kspace import (
    consistent_spectrum,
    radial_frequency,
    solve_lambda,
    spectral_consistency,
    undersample,
)


@pytest.fixture(scope="module")
def brain(shared_data):
    from noise2stack.io.stacks import read_stack

    return read_stack(shared_data / "mri_mni152_template_clean" / "mni152_2009a_t1_zyx.tif")[90:98].astype(np.float32)


def test_lambda_solver_is_exact_on_a_known_case():
    # 2x2 spectrum: |k| = 0, 1, 1, sqrt(2); mean exp(-λ|k|) = (1 + 2e^-λ + e^-√2λ) / 4
    lam = solve_lambda(2, 2, 0.5)
    assert (1 + 2 * np.exp(-lam) + np.exp(-np.sqrt(2) * lam)) / 4 == pytest.approx(0.5, abs=1e-12)
    assert np.exp(-solve_lambda(64, 48, 0.1) * radial_frequency(64, 48)).mean() == pytest.approx(0.1, abs=1e-10)
    assert solve_lambda(8, 8, 1.0) == 0.0


def test_kept_fraction_over_a_stack_is_within_one_percent(brain):
    for keep in (0.1, 0.25):
        _, side = undersample(brain, keep, seed=3)
        assert abs(side["mask"].mean() - keep) <= 0.01
        assert side["mask"][:, 0, 0].all()  # DC always kept


def test_weighting_is_unbiased(brain):
    plane = brain[:1, ::2, ::2]
    mean = np.mean([undersample(plane, 0.1, seed=s)[0] for s in range(400)], axis=0)
    err = np.sqrt(np.mean((mean - plane) ** 2)) / np.sqrt(np.mean(plane**2))
    single = undersample(plane, 0.1, seed=0)[0]
    err_one = np.sqrt(np.mean((single - plane) ** 2)) / np.sqrt(np.mean(plane**2))
    assert err < err_one / 10  # averaging 400 corruptions: error shrinks ~sqrt(400) = 20 times
    assert err < 0.05


def test_post_processing_restores_measured_frequencies_only(brain):
    _, side_a = undersample(brain, 0.1, seed=1)
    _, side_b = undersample(brain, 0.1, seed=4)
    guess = np.fft.fft2(np.random.default_rng(0).random(brain.shape) * 100)
    fixed = consistent_spectrum(guess, [side_a, side_b])
    true = np.fft.fft2(brain.astype(np.float64))
    both = side_a["mask"] | side_b["mask"]
    np.testing.assert_allclose(fixed[both], true[both], rtol=1e-5, atol=1e-3 * np.abs(true).max())
    np.testing.assert_array_equal(fixed[~both], guess[~both])


def test_post_processed_image_keeps_frequencies_sampled_with_their_partner(brain):
    _, side = undersample(brain, 0.1, seed=1)
    guess = (np.random.default_rng(0).random(brain.shape) * 100).astype(np.float32)
    spec = np.fft.fft2(spectral_consistency(guess, [side]).astype(np.float64))
    true = np.fft.fft2(brain.astype(np.float64))
    mask = side["mask"]
    partner = np.roll(np.flip(mask, axis=(1, 2)), 1, axis=(1, 2))  # mask at -k
    pairs = mask & partner
    np.testing.assert_allclose(spec[pairs], true[pairs], atol=1e-3 * np.abs(true).max())


def test_post_processing_of_the_truth_changes_nothing(brain):
    _, side = undersample(brain, 0.1, seed=2)
    np.testing.assert_allclose(spectral_consistency(brain, [side]), brain, atol=1e-2)


def test_bad_keep():
    for keep in (0.0, -0.1, 1.5):
        with pytest.raises(Noise2StackError, match="`keep`"):
            solve_lambda(16, 16, keep)


def test_cli_simulate_kspace_and_post_process(tmp_path, brain):
    import tifffile
    from typer.testing import CliRunner

    from noise2stack.cli import app

    runner = CliRunner()
    clean = brain[:, 60:124, 60:124]
    tifffile.imwrite(tmp_path / "clean.tif", clean, photometric="minisblack")
    for name, seed in (("a", 1), ("b", 2)):
        r = runner.invoke(
            app,
            [
                "simulate",
                str(tmp_path / "clean.tif"),
                str(tmp_path / f"{name}.tif"),
                "--noise",
                "kspace",
                "--keep",
                "0.1",
                "--seed",
                str(seed),
            ],
        )
        assert r.exit_code == 0, r.output
        assert (tmp_path / f"{name}.kspace.npz").is_file()
    tiny = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "32", "--batch", "2", "--quiet"]
    r = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "a.tif"),
            "--target",
            str(tmp_path / "b.tif"),
            "--method",
            "n2n",
            "--out",
            str(tmp_path / "m"),
            *tiny,
        ],
    )
    assert r.exit_code == 0, r.output
    args = [
        "predict",
        str(tmp_path / "m"),
        str(tmp_path / "a.tif"),
        str(tmp_path / "pp.tif"),
        "--quiet",
        "--kspace",
        str(tmp_path / "a.kspace.npz"),
        "--kspace",
        str(tmp_path / "b.kspace.npz"),
    ]
    assert runner.invoke(app, args).exit_code == 0
    from noise2stack import api

    raw = api.predict(tmp_path / "m", tmp_path / "a.tif", progress=False)
    post = tifffile.imread(tmp_path / "pp.tif")
    assert api.evaluate(post, clean)["psnr"] > api.evaluate(raw, clean)["psnr"] + 1.0


def test_cli_kspace_bad_input(tmp_path, brain):
    import tifffile
    from typer.testing import CliRunner

    from noise2stack.cli import app

    runner = CliRunner()
    tifffile.imwrite(tmp_path / "clean.tif", brain[:, :64, :64], photometric="minisblack")
    tifffile.imwrite(tmp_path / "small.tif", brain[:, :32, :32], photometric="minisblack")
    for keep in ("0", "-0.5", "1.5"):
        r = runner.invoke(
            app, ["simulate", str(tmp_path / "clean.tif"), str(tmp_path / "n.tif"), "--noise", "kspace", "--keep", keep]
        )
        assert r.exit_code == 2 and "--keep" in r.output and len(r.output.strip().splitlines()) == 1
    assert (
        runner.invoke(
            app,
            ["simulate", str(tmp_path / "small.tif"), str(tmp_path / "s.tif"), "--noise", "kspace", "--keep", "0.2"],
        ).exit_code
        == 0
    )
    tiny = ["--epochs", "1", "--steps-per-epoch", "1", "--patch", "16", "--batch", "2", "--quiet"]
    assert (
        runner.invoke(app, ["train", str(tmp_path / "clean.tif"), "--out", str(tmp_path / "m"), *tiny]).exit_code == 0
    )
    r = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "m"),
            str(tmp_path / "clean.tif"),
            str(tmp_path / "o.tif"),
            "--kspace",
            str(tmp_path / "s.kspace.npz"),
        ],
    )
    assert r.exit_code == 2 and "shape" in r.output and not (tmp_path / "o.tif").exists()
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04junk")
    r = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "m"),
            str(tmp_path / "clean.tif"),
            str(tmp_path / "o.tif"),
            "--kspace",
            str(tmp_path / "junk.npz"),
        ],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
