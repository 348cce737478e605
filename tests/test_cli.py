"""The CLI contract end to end, and one test per bad input: one line, exit code 2, nothing written."""

import json

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack.cli import app

runner = CliRunner()
TINY_TRAIN = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "2", "--quiet"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path, tiny_stack):
    tifffile.imwrite(tmp_path / "clean.tif", tiny_stack)
    return tmp_path


def test_simulate_train_predict_evaluate(files):
    d = files
    r = run(
        "simulate",
        d / "clean.tif",
        d / "noisy.tif",
        "--noise",
        "poisson-gaussian",
        "--peak",
        "30",
        "--sigma",
        "3",
        "--seed",
        "1",
    )
    assert r.exit_code == 0, r.output
    r = run(
        "simulate",
        d / "clean.tif",
        d / "copy.tif",
        "--noise",
        "poisson-gaussian",
        "--peak",
        "30",
        "--sigma",
        "3",
        "--seed",
        "2",
    )
    assert r.exit_code == 0, r.output
    r = run(
        "train",
        d / "noisy.tif",
        "--out",
        d / "model",
        "--method",
        "n2stack",
        "--mode",
        "self",
        "--neighbors",
        "2",
        *TINY_TRAIN,
    )
    assert r.exit_code == 0, r.output
    r = run("predict", d / "model", d / "noisy.tif", d / "den.tif", "--tile", "16", "--overlap", "8", "--batch", "3")
    assert r.exit_code == 0, r.output
    den = tifffile.imread(d / "den.tif")
    assert den.dtype == np.float32 and den.shape == (7, 40, 36)
    r = run("evaluate", d / "den.tif", d / "clean.tif", "--json", "--normalize", "care")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert set(result) >= {"psnr", "ssim", "nrmse", "per_plane"} and len(result["per_plane"]) == 7
    # copy mode with a target and a YAML config
    (d / "c.yaml").write_text("neighbors: 4\nresidual: false\n")
    r = run(
        "train",
        d / "noisy.tif",
        "--target",
        d / "copy.tif",
        "--mode",
        "copy",
        "--config",
        d / "c.yaml",
        "--out",
        d / "m2",
        *TINY_TRAIN,
    )
    assert r.exit_code == 0, r.output
    assert "neighbors: 4" in (d / "m2" / "config.yaml").read_text()


def test_prediction_keeps_input_axes_and_units(files):
    d = files
    stack = tifffile.imread(d / "clean.tif")
    tifffile.imwrite(d / "yxz.tif", np.moveaxis(stack, 0, -1).astype(np.uint16))
    assert run("train", d / "yxz.tif", "--axes", "YXZ", "--out", d / "m", *TINY_TRAIN).exit_code == 0
    r = run("predict", d / "m", d / "yxz.tif", d / "out.tif", "--quiet")
    assert r.exit_code == 0, r.output
    out = tifffile.imread(d / "out.tif")
    assert out.shape == (40, 36, 7) and out.dtype == np.float32
    # intensities come back in input units (roughly the input's range, not 0..1)
    assert 0.5 * stack.mean() < out.mean() < 2 * stack.mean()


def _bad_cases(d):
    stack = tifffile.imread(d / "clean.tif")
    (d / "corrupt.tif").write_bytes(b"II*\x00garbage" * 10)
    (d / "image.png").write_bytes(b"\x89PNG")
    tifffile.imwrite(d / "plane.tif", stack[0])
    tifffile.imwrite(d / "short.tif", stack[:3], photometric="minisblack")
    tifffile.imwrite(d / "other.tif", stack[:, :20])
    nan = stack.copy()
    nan[2, 3, 4] = np.nan
    tifffile.imwrite(d / "nan.tif", nan)
    (d / "notamodel").mkdir()
    assert run("train", d / "clean.tif", "--out", d / "model", *TINY_TRAIN).exit_code == 0
    out = ["--out", d / "new"]
    return {
        "missing file": (["train", d / "missing.tif", *out], "not found"),
        "unreadable file": (["train", d / "corrupt.tif", *out], "cannot read"),
        "unsupported format": (["train", d / "image.png", *out], "unsupported format"),
        "axes mismatch": (["train", d / "clean.tif", "--axes", "YX", *out], "--axes"),
        "2-D image": (["train", d / "plane.tif", "--axes", "YX", *out], "single 2-D plane"),
        "too few planes": (["train", d / "short.tif", "--neighbors", "4", *out], "needs at least 5 planes"),
        "odd neighbors": (["train", d / "clean.tif", "--neighbors", "3", *out], "even"),
        "copy without target": (["train", d / "clean.tif", "--mode", "copy", *out], "--target"),
        "target of another shape": (
            ["train", d / "clean.tif", "--mode", "copy", "--target", d / "other.tif", *out],
            "shape",
        ),
        "patch larger than planes": (["train", d / "clean.tif", "--patch", "64", *out], "--patch 64"),
        "NaN in input": (["train", d / "nan.tif", *out], "NaN"),
        "output equals input": (["predict", d / "model", d / "clean.tif", d / "clean.tif"], "also an input"),
        "not a model": (["predict", d / "notamodel", d / "clean.tif", d / "new.tif"], "not a noise2stack model"),
        "unknown method": (["train", d / "clean.tif", "--method", "magic", *out], "unknown method"),
        "bad noise": (["simulate", d / "clean.tif", d / "new.tif", "--noise", "poisson"], "--peak"),
        "NaN in prediction input": (["predict", d / "model", d / "nan.tif", d / "new.tif"], "NaN"),
        "existing output": (
            ["simulate", d / "clean.tif", d / "plane.tif", "--noise", "gaussian", "--sigma", "1"],
            "exists",
        ),
    }


def test_bad_input_gives_one_line_and_exit_2_and_writes_nothing(files):
    d = files
    for name, (args, match) in _bad_cases(d).items():
        before = sorted(p.name for p in d.rglob("*"))
        r = run(*args)
        assert r.exit_code == 2, f"{name}: exit {r.exit_code}\n{r.output}"
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("noise2stack: error:"), f"{name}: {r.output}"
        assert match in lines[0], f"{name}: {lines[0]}"
        assert "Traceback" not in r.output
        assert sorted(p.name for p in d.rglob("*")) == before, f"{name} wrote files"


@pytest.mark.parametrize(
    "argv,match",
    [
        (["train", "x.tif", "--out", "m", "--bogus", "1"], "No such option"),
        (["predict", "model"], "Missing argument"),
        (["frobnicate"], "No such command"),
        (["train", "x.tif", "--out", "m", "--epochs", "many"], "--epochs"),
    ],
)
def test_usage_errors_are_one_line(argv, match, capsys):
    from noise2stack.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("noise2stack: error:") and match in err[0], err
