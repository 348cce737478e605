"""`noise2stack report`: the numbers it prints are api.evaluate's, images are embedded, bad input, Chromium renders it."""

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from scipy import ndimage

    folder = tmp_path_factory.mktemp("report")
    field = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(7, 48, 40)), (1.5, 3, 3))
    clean = (20 + 200 * (field - field.min()) / (field.max() - field.min())).astype(np.float32)
    noisy = api.simulate(clean, None, "gaussian", sigma=12.0, seed=3)
    np.save(folder / "clean.npy", clean)
    np.save(folder / "noisy.npy", noisy)
    api.train(
        folder / "noisy.npy",
        folder / "model",
        progress=False,
        epochs=2,
        steps_per_epoch=3,
        patch=16,
        batch=4,
        val_patches=4,
        seed=0,
    )
    api.predict(folder / "model", folder / "noisy.npy", folder / "denoised.npy", progress=False)
    return folder


def test_report_prints_evaluate_values(trained, tmp_path):
    out = tmp_path / "report.html"
    r = run(
        "report",
        trained / "model",
        trained / "noisy.npy",
        "--reference",
        trained / "clean.npy",
        "--denoised",
        trained / "denoised.npy",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    denoised = api.evaluate(trained / "denoised.npy", trained / "clean.npy")
    noisy = api.evaluate(trained / "noisy.npy", trained / "clean.npy")
    assert f'id="mean-psnr">{denoised["psnr"]:.2f}<' in text
    assert f'id="mean-ssim">{denoised["ssim"]:.4f}<' in text
    assert f'id="noisy-psnr">{noisy["psnr"]:.2f}<' in text
    assert f"mean PSNR {denoised['psnr']:.2f} dB" in r.output
    # The per-plane table: plane, noisy PSNR, denoised PSNR, noisy SSIM, denoised SSIM.
    table = text[text.index('id="per-plane"') :]
    for n, d in zip(noisy["per_plane"], denoised["per_plane"]):
        row = f"<td>{n['plane']}</td><td>{n['psnr']:.2f}</td><td>{d['psnr']:.2f}</td><td>{n['ssim']:.4f}</td><td>{d['ssim']:.4f}</td>"
        assert row in table
    # The analysis table is api.analyze's.
    analysis = api.analyze(trained / "noisy.npy")
    assert f"<td>{analysis['neighbor_predictability_db']['1']:.1f}</td>" in text
    assert analysis["recommendation"]["reason"] in text


def test_report_predicts_when_no_denoised_is_given(trained, tmp_path):
    result = api.report(trained / "model", trained / "noisy.npy", tmp_path / "r.html", reference=trained / "clean.npy")
    expected = api.evaluate(trained / "denoised.npy", trained / "clean.npy")["psnr"]
    assert result["metrics"]["denoised"]["psnr"] == pytest.approx(expected, abs=1e-9)


def test_images_are_embedded_and_nothing_is_linked(trained, tmp_path):
    out = tmp_path / "report.html"
    api.report(trained / "model", trained / "noisy.npy", out)  # no reference: no metric sections
    text = out.read_text(encoding="utf-8")
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 4  # before/after, crops, training curves, analysis figures
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text and "<link" not in text
    assert 'id="mean-psnr"' not in text


def test_bad_input_is_one_line_and_writes_nothing(trained, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    r = run("report", trained / "model", trained / "noisy.npy", "--out", out)
    assert r.exit_code == 2 and "--overwrite" in r.output and len(r.output.strip().splitlines()) == 1
    assert out.read_text() == "keep me"

    fresh = tmp_path / "new.html"
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    r = run("report", not_a_model, trained / "noisy.npy", "--out", fresh)
    assert r.exit_code == 2 and "is not a noise2stack model" in r.output and len(r.output.strip().splitlines()) == 1
    np.save(tmp_path / "small.npy", np.ones((7, 48, 32), np.float32))
    r = run("report", trained / "model", trained / "noisy.npy", "--reference", tmp_path / "small.npy", "--out", fresh)
    assert r.exit_code == 2 and "--reference has shape" in r.output and len(r.output.strip().splitlines()) == 1
    r = run("report", trained / "model", trained / "noisy.npy", "--denoised", tmp_path / "small.npy", "--out", fresh)
    assert r.exit_code == 2 and "--denoised has shape" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "report.html", "small.npy"]  # no temp files either


def test_chromium_renders_the_report(trained, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless check needs Chromium on PATH (Debian: apt-get install chromium)")
    out = tmp_path / "report.html"
    api.report(trained / "model", trained / "noisy.npy", out, reference=trained / "clean.npy")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,3000",
            out.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert image.shape == (3000, 1200)
    # Rendered text and figures: many grey levels, and dark pixels on much of the page, not a blank one.
    assert len(np.unique(image)) > 50
    rows_with_ink = (image < 128).any(axis=1).mean()
    assert rows_with_ink > 0.3


def test_a_time_lapse_report_judges_it_along_time(tmp_path):
    from noise2stack.noise.calcium import calcium_movie

    movie = calcium_movie(frames=40, side=32, cells=4, seed=4)
    np.save(tmp_path / "movie.npy", movie.noisy)
    np.save(tmp_path / "clean.npy", movie.clean)
    api.train(
        tmp_path / "movie.npy",
        tmp_path / "m",
        axes="TYX",
        progress=False,
        epochs=1,
        steps_per_epoch=2,
        patch=16,
        batch=2,
    )
    result = api.report(tmp_path / "m", tmp_path / "movie.npy", tmp_path / "r.html", reference=tmp_path / "clean.npy")
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Along time</h2>" in page and "ΔF/F correlation" in page
    temporal = result["temporal"]
    assert temporal["trace_correlation"]["regions"] >= 1 and set(temporal["residual_whiteness"]) == {"t", "y", "x"}
    assert f"{temporal['tsnr']['denoised']:.2f}" in page  # the page shows evaluate's numbers
