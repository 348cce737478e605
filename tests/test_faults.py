"""Nothing lost under faults: inputs untouched, no half-written outputs, clear errors for full disks,
too little memory and damaged files, provenance on every output."""

import errno
import hashlib
import json
import os

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app
from noise2stack.errors import Noise2StackError

runner = CliRunner()
TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "2", "--quiet"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture
def d(tmp_path, tiny_stack):
    tifffile.imwrite(tmp_path / "clean.tif", tiny_stack)
    assert (
        run("simulate", tmp_path / "clean.tif", tmp_path / "noisy.tif", "--noise", "gaussian", "--sigma", "5").exit_code
        == 0
    )
    return tmp_path


def _one_line_exit_2(result, match):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], result.output


def test_inputs_are_never_modified(d):
    before = {p: _fingerprint(d / p) for p in ("clean.tif", "noisy.tif")}
    assert run("train", d / "noisy.tif", "--out", d / "m", *TINY).exit_code == 0
    assert run("predict", d / "m", d / "noisy.tif", d / "den.tif", "--quiet").exit_code == 0
    assert run("evaluate", d / "den.tif", d / "clean.tif", "--json").exit_code == 0
    assert {p: _fingerprint(d / p) for p in before} == before


def test_existing_outputs_need_overwrite(d):
    assert run("train", d / "noisy.tif", "--out", d / "m", *TINY).exit_code == 0
    _one_line_exit_2(run("train", d / "noisy.tif", "--out", d / "m", *TINY), "--overwrite")
    (d / "m" / "notes.txt").write_text("mine")
    assert run("train", d / "noisy.tif", "--out", d / "m", "--overwrite", *TINY).exit_code == 0
    assert (d / "m" / "notes.txt").read_text() == "mine"  # only model files are replaced
    weights = (d / "m" / "weights.safetensors").read_bytes()
    _one_line_exit_2(
        run("train", d / "noisy.tif", "--out", d / "m", "--overwrite", "--epochs", "1", "--patch", "64"), "--patch 64"
    )
    assert (d / "m" / "weights.safetensors").read_bytes() == weights  # a refused run destroys nothing
    (d / "den.tif").write_bytes(b"precious")
    _one_line_exit_2(run("predict", d / "m", d / "noisy.tif", d / "den.tif"), "exists")
    assert (d / "den.tif").read_bytes() == b"precious"
    assert run("predict", d / "m", d / "noisy.tif", d / "den.tif", "--overwrite", "--quiet").exit_code == 0


def test_full_disk_leaves_no_partial_file(d, monkeypatch):
    real_imwrite = tifffile.imwrite

    def full_disk(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"II*\x00partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tifffile, "imwrite", full_disk)
    _one_line_exit_2(
        run("simulate", d / "clean.tif", d / "out.tif", "--noise", "gaussian", "--sigma", "1"), "No space left"
    )
    monkeypatch.setattr(tifffile, "imwrite", real_imwrite)
    assert sorted(p.name for p in d.iterdir()) == ["clean.tif", "noisy.tif"]


def test_too_little_memory_is_estimated_first(d):
    assert run("train", d / "noisy.tif", "--out", d / "m", *TINY).exit_code == 0
    big = np.zeros((3, 6000, 6000), np.float32)
    with pytest.raises(Noise2StackError, match="lower `tile` or `batch`"):
        api.predict(d / "m", big, d / "x.tif", tile=8192, batch=8, progress=False)
    r = run("train", d / "noisy.tif", "--out", d / "m2", "--batch", "4000", "--patch", "4000", "--epochs", "1")
    assert r.exit_code == 2 and ("lower --batch or --patch" in r.output or "--patch 4000" in r.output), r.output
    assert not (d / "x.tif").exists() and not (d / "m2").exists()


@pytest.mark.parametrize(
    "args,match",
    [
        (["--patch", "0"], "patch"),
        (["--batch", "0"], "batch"),
        (["--epochs", "0"], "epochs"),
        (["--neighbors", "1000"], "neighbors"),
        (["--max-time", "-1"], "max_time"),
        (["--mode", "sideways"], "mode"),
        (["--net", "gpt"], "net"),
    ],
)
def test_bad_sizes_and_names_in_options(d, args, match):
    _one_line_exit_2(run("train", d / "noisy.tif", "--out", d / "m", *args), match)
    assert not (d / "m").exists()


@pytest.mark.parametrize("tile,batch", [("0", "1"), ("64", "0"), ("-5", "1")])
def test_bad_prediction_sizes(d, tile, batch):
    assert run("train", d / "noisy.tif", "--out", d / "m", *TINY).exit_code == 0
    r = run("predict", d / "m", d / "noisy.tif", d / "x.tif", "--tile", tile, "--batch", batch)
    assert r.exit_code == 2 and not (d / "x.tif").exists()


def test_truncated_compressed_tiff(tmp_path):
    a = (np.random.default_rng(0).random((5, 64, 64)) * 1000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", a, compression="zlib", photometric="minisblack")
    data = (tmp_path / "a.tif").read_bytes()
    for frac in (0.9, 0.5, 0.2):
        (tmp_path / "t.tif").write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(Noise2StackError, match="cannot read"):
            api.evaluate(tmp_path / "t.tif", tmp_path / "a.tif")


def test_unwritable_output_folder(d):
    (d / "afile").write_text("x")
    _one_line_exit_2(
        run("simulate", d / "clean.tif", d / "afile" / "out.tif", "--noise", "gaussian", "--sigma", "1"),
        "does not exist",
    )
    _one_line_exit_2(run("train", d / "noisy.tif", "--out", d / "afile" / "m", *TINY), "does not exist")


def test_read_only_output_folder(d, monkeypatch):
    # root ignores permission bits, so the check itself is made to see a read-only folder
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    _one_line_exit_2(
        run("simulate", d / "clean.tif", d / "o.tif", "--noise", "gaussian", "--sigma", "1"), "not writable"
    )
    _one_line_exit_2(run("train", d / "noisy.tif", "--out", d / "m", *TINY), "not writable")
    assert not (d / "o.tif").exists() and not (d / "m").exists()


def test_compare_keeps_earlier_results(d, tiny_stack):
    (d / "cmp").mkdir()
    (d / "cmp" / "comparison.md").write_text("earlier")
    with pytest.raises(Noise2StackError, match="`overwrite`"):
        api.compare(
            tiny_stack, d / "cmp", {"noise": "gaussian", "sigma": 1.0}, budget=1, methods=["Noise2Void"], progress=False
        )
    assert (d / "cmp" / "comparison.md").read_text() == "earlier"


def test_outputs_record_provenance(d):
    assert run("train", d / "noisy.tif", "--out", d / "m", "--seed", "7", *TINY).exit_code == 0
    assert run("predict", d / "m", d / "noisy.tif", d / "den.tif", "--quiet").exit_code == 0
    with tifffile.TiffFile(d / "den.tif") as tif:
        meta = tif.shaped_metadata[0]
    assert meta["seed"] == 7 and meta["method"] == "n2stack" and len(meta["model_sha256"]) == 64 and meta["noise2stack"]
    with tifffile.TiffFile(d / "noisy.tif") as tif:
        assert tif.shaped_metadata[0]["noise"] == "gaussian" and tif.shaped_metadata[0]["noise2stack"]
    versions = json.loads((d / "m" / "versions.json").read_text())
    assert versions["noise2stack"] and versions["torch"] and len(versions["training_data"]["inputs"][0]["sha256"]) == 64
    r = run("evaluate", d / "den.tif", d / "clean.tif", "--json")
    assert json.loads(r.output)["noise2stack"]
