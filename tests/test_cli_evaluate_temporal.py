"""`noise2stack evaluate` on a time-lapse: the temporal section, with and without a reference."""

import json

import numpy as np
import tifffile
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app
from noise2stack.noise.calcium import calcium_movie

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _files(tmp_path):
    movie = calcium_movie(frames=60, side=40, cells=6, seed=2)
    # a "denoiser" that averages 3 frames: less noise, blunter spikes
    smoothed = np.stack([movie.noisy[max(t - 1, 0) : t + 2].mean(axis=0) for t in range(60)])
    for name, array in (("clean", movie.clean), ("noisy", movie.noisy), ("den", smoothed)):
        tifffile.imwrite(tmp_path / f"{name}.tif", array.astype(np.float32))
    tifffile.imwrite(tmp_path / "labels.tif", movie.labels)
    return movie


def test_the_temporal_section_by_value(tmp_path):
    movie = _files(tmp_path)
    r = run(
        "evaluate",
        tmp_path / "den.tif",
        tmp_path / "clean.tif",
        "--axes",
        "TYX",
        "--noisy",
        tmp_path / "noisy.tif",
        "--labels",
        tmp_path / "labels.tif",
        "--json",
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    temporal = result["temporal"]
    assert set(temporal["tsnr"]) == {"denoised", "reference", "noisy"}
    assert temporal["tsnr"]["denoised"] > temporal["tsnr"]["noisy"]  # averaging raises tSNR
    traces = temporal["trace_correlation"]
    assert traces["regions"] == movie.labels.max() and len(traces["per_region"]) == traces["regions"]
    # a 3-frame mean blurs every spike: its traces follow the truth less than the noisy ones, and
    # its residual is anticorrelated along T (what the benchmark finds for neighbours along T)
    assert traces["denoised"] < traces["noisy"]
    white = temporal["residual_whiteness"]
    assert white["t"] < -0.2  # a 3-frame mean leaves a residual anticorrelated along T
    assert abs(white["y"]) < 0.1 and abs(white["x"]) < 0.1  # nothing taken within the plane
    assert len(result["per_plane"]) == 60 and "psnr" in result


def test_without_a_reference_only_what_needs_none(tmp_path):
    _files(tmp_path)
    r = run("evaluate", tmp_path / "den.tif", "--axes", "TYX", "--noisy", tmp_path / "noisy.tif")
    assert r.exit_code == 0, r.output
    assert "tSNR" in r.output and "residual" in r.output and "PSNR" not in r.output
    result = api.evaluate(tmp_path / "den.tif", axes="TYX", noisy=tmp_path / "noisy.tif")
    assert "psnr" not in result and "trace_correlation" not in result["temporal"]


def test_bad_requests_are_one_line_exit_2(tmp_path):
    _files(tmp_path)
    tifffile.imwrite(tmp_path / "float_labels.tif", np.zeros((40, 40), np.float32))
    cases = [
        ("evaluate", tmp_path / "den.tif"),  # neither a reference nor a noisy time-lapse
        ("evaluate", tmp_path / "den.tif", "--noisy", tmp_path / "noisy.tif"),  # no T in the axes
        (
            "evaluate",
            tmp_path / "den.tif",
            tmp_path / "clean.tif",
            "--axes",
            "TYX",
            "--labels",
            tmp_path / "float_labels.tif",
        ),
        ("evaluate", tmp_path / "den.tif", "--axes", "TYX", "--noisy", tmp_path / "labels.tif"),  # wrong shape
    ]
    for case in cases:
        r = run(*case)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, (case, r.output)
