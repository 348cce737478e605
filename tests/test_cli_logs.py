"""Logs a cluster user can read: one line per epoch / 10 % when output is not a terminal, --quiet,
--log-json (JSON lines), --version."""

import io
import json
import re

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack import __version__
from noise2stack.cli import app, main
from noise2stack.progress import ProgressLog, default_mode

runner = CliRunner()
TINY = ["--steps-per-epoch", "2", "--patch", "16", "--batch", "2"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    stack = 10 + 100 * np.random.default_rng(0).random((10, 40, 36)).astype(np.float32)
    tifffile.imwrite(d / "noisy.tif", stack)
    r = run("train", d / "noisy.tif", "--out", d / "model", "--epochs", "3", *TINY, "--log-json", d / "train.jsonl")
    assert r.exit_code == 0, r.output
    return d, r.output


def test_training_prints_one_line_per_epoch_without_carriage_returns(model_dir):
    _, output = model_dir
    assert "\r" not in output
    epoch_lines = [line for line in output.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert all(re.search(r"loss \S+  val_loss \S+  elapsed \d+:\d\d  left \d+:\d\d$", line) for line in epoch_lines)
    assert output.strip().splitlines()[-1].startswith("model written to")


def test_train_log_json_lines(model_dir):
    d, _ = model_dir
    events = [json.loads(line) for line in (d / "train.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["epoch", "epoch", "epoch", "train_end"]
    assert [e["epoch"] for e in events[:3]] == [1, 2, 3] and all(e["epochs"] == 3 for e in events[:3])
    for e in events[:3]:
        assert {"time", "train_loss", "val_loss", "elapsed_s", "left_s"} <= set(e)
        assert isinstance(e["train_loss"], float) and e["left_s"] >= 0
    assert events[2]["left_s"] == 0.0 and events[3]["epochs"] == 3
    # the losses are the ones of the model folder's CSV log
    csv = (d / "model" / "training_log.csv").read_text().splitlines()
    assert len(csv) == 4 and float(csv[1].split(",")[2]) == events[0]["train_loss"]  # both at full precision


def test_predict_lines_every_10_percent_and_json(model_dir, tmp_path):
    d, _ = model_dir
    log = tmp_path / "predict.jsonl"
    r = run("predict", d / "model", d / "noisy.tif", tmp_path / "den.tif", "--tile", "16", "--log-json", log)
    assert r.exit_code == 0, r.output
    assert "\r" not in r.output
    lines = [line for line in r.output.splitlines() if line.startswith("denoising:")]
    assert [line.split()[1] for line in lines] == [f"{k}/10" for k in range(1, 11)]  # 10 planes: one per 10 %
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["predict"] * 10 + ["predict_end"]
    assert [e["percent"] for e in events[:10]] == [10.0 * k for k in range(1, 11)]
    assert events[-1]["out"] == str(tmp_path / "den.tif")


def test_quiet_prints_nothing(model_dir, tmp_path):
    d, _ = model_dir
    r = run("predict", d / "model", d / "noisy.tif", tmp_path / "den.tif", "--tile", "16", "--quiet")
    assert r.exit_code == 0 and r.output == ""
    r = run("train", d / "noisy.tif", "--out", tmp_path / "m", "--epochs", "1", *TINY, "--quiet")
    assert r.exit_code == 0 and r.output == ""


def test_on_plane_reports_every_10_percent_of_100_planes():
    stream = io.StringIO()
    log = ProgressLog("lines", stream=stream)
    log.predict_start()
    for done in range(1, 101):
        log.on_plane(done, 100)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [f"{k}/100" for k in range(10, 101, 10)]


def test_default_mode_without_a_terminal():
    assert default_mode(quiet=True) == "quiet"
    assert default_mode() == "lines"  # pytest captures stdout/stderr: not terminals


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"noise2stack {__version__}\n"


def test_log_json_into_missing_folder_is_one_line_exit_2(model_dir, tmp_path):
    d, _ = model_dir
    r = run("predict", d / "model", d / "noisy.tif", tmp_path / "den.tif", "--log-json", tmp_path / "no" / "x.jsonl")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and not (tmp_path / "den.tif").exists()
