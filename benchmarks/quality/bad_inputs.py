"""Every bad input we know of, through the CLI entry point: what the user sees and the exit code.

    python -m benchmarks.quality.bad_inputs

Each case must exit 2 with one line on stderr and write nothing. Seconds to run (one tiny training).
Writes ``quality/results/bad_inputs.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np
import tifffile
import zarr

from benchmarks.harness import write_result
from noise2stack.cli import main as cli_main  # internal: the console script's entry point, run in-process

TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--patch", "16", "--batch", "2", "--quiet"]


def cli(*args) -> tuple[int, str]:
    """(exit code, stderr) of ``noise2stack ARGS``."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli_main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue().strip()


def make_inputs(d: Path) -> None:
    """The good and bad files the cases use, and a tiny trained model (``d/model``)."""
    stack = (np.random.default_rng(0).random((7, 40, 36)) * 1000).astype(np.float32)
    tifffile.imwrite(d / "clean.tif", stack, photometric="minisblack")
    tifffile.imwrite(d / "plane.tif", stack[0])
    tifffile.imwrite(d / "short.tif", stack[:3], photometric="minisblack")
    tifffile.imwrite(d / "other.tif", stack[:, :20], photometric="minisblack")
    nan = stack.copy()
    nan[2, 3, 4] = np.nan
    tifffile.imwrite(d / "nan.tif", nan, photometric="minisblack")
    (d / "corrupt.tif").write_bytes(b"II*\x00garbage" * 10)
    tifffile.imwrite(d / "z.tif", stack, compression="zlib", photometric="minisblack")
    (d / "truncated.tif").write_bytes((d / "z.tif").read_bytes()[:2000])
    (d / "image.png").write_bytes(b"\x89PNG")
    (d / "volume.nii.gz").write_bytes(b"\x1f\x8b")
    np.save(d / "bool.npy", np.zeros((3, 8, 8), bool))
    np.save(d / "complex.npy", np.zeros((3, 8, 8), complex))
    np.save(d / "object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "empty.npy", np.zeros((0, 8, 8), np.float32))
    (d / "bad.yaml").write_text("neighbors: four\npatchsize: 3\n")
    (d / "unknown.yaml").write_text("patchsize: 64\n")
    (d / "payload.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n")
    (d / "notamodel").mkdir()
    (d / "afile").write_text("x")
    assert cli("train", d / "clean.tif", "--out", d / "model", *TINY)[0] == 0
    make_newer_inputs(d, stack)


def make_newer_inputs(d: Path, stack: np.ndarray) -> None:
    """Inputs of the cases added after the first catalogue (2026-11-21): stores, noise models, configs."""
    np.save(d / "clean.npy", stack)
    tifffile.imwrite(d / "constant.tif", np.ones((4, 16, 16), np.float32), photometric="minisblack")
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    hostile = {"probabilities": np.array([{"a": 1}], dtype=object), "low": 0.0, "high": 1.0}
    np.savez(d / "hostile.npz", **hostile)  # every field a noise model has, one of them a pickle
    np.savez(d / "foreign.npz", weights=np.zeros(3))  # a valid .npz of another program
    # a Zarr array written by another tool where predict would write its output
    zarr.open_array(str(d / "other_tool.zarr"), mode="w", shape=(2, 2), dtype="f4")[:] = 1
    # OME-Zarr: metadata naming 2 axes over a 3-D array; a group with no image at all
    bad = zarr.open_group(str(d / "wrong_axes.ome.zarr"), mode="w")
    bad.create_array("0", shape=stack.shape, dtype="f4")[:] = stack
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    scale = [{"type": "scale", "scale": [1.0, 1.0]}]
    bad.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [{"axes": axes, "datasets": [{"path": "0", "coordinateTransformations": scale}]}],
    }
    zarr.open_group(str(d / "empty_group.ome.zarr"), mode="w")
    # a stranger's "model": a config that runs code if unsafely loaded, and a model of another network
    (d / "stranger").mkdir()
    (d / "stranger" / "config.yaml").write_text("!!python/object/apply:os.system ['echo pwned']\n")
    (d / "stranger" / "weights.safetensors").write_bytes(b"\x00" * 16)
    (d / "stranger" / "normalization.json").write_text("{}")
    assert cli("train", d / "clean.tif", "--out", d / "n2v_model", "--method", "n2v", *TINY)[0] == 0
    assert cli("train", d / "clean.tif", "--out", d / "nrrn_model", "--method", "nrrn", *TINY)[0] == 0
    (d / "types.yaml").write_text("data:\n  patch: big\n")
    (d / "section.yaml").write_text("algorithm: [1, 2]\n")
    (d / "other_method.yaml").write_text("method: n2v\nunits: 3\n")


def garbage_server() -> int:
    """A local TCP port that answers every connection with garbage (a misconfigured --scheduler address)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def answer() -> None:
        for _ in range(4):  # bounded: a few connection attempts, then the thread ends
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nnot a dask scheduler\n" * 4)

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


def newer_cases(d: Path) -> dict[str, list]:
    """Bad inputs of what came after the first catalogue: analyze, report, export, noise models, OME-Zarr
    stores, stores of other tools, --init with a stranger's model, a scheduler that answers garbage, configs."""
    model, clean = d / "model", d / "clean.tif"
    port = garbage_server()
    return {
        "analyze: missing file": ["analyze", d / "missing.tif"],
        "analyze: constant stack": ["analyze", d / "constant.tif"],
        "analyze: --target of another shape": ["analyze", clean, "--target", d / "other.tif"],
        "report: not a model folder": ["report", d / "notamodel", clean, "--out", d / "r.html"],
        "report: --reference of another shape": [
            "report",
            model,
            clean,
            "--reference",
            d / "other.tif",
            "--out",
            d / "r.html",
        ],
        "report: output is the model folder": ["report", model, clean, "--out", model],
        "export: output not a .zip": ["export", model, d / "pkg.tar", "--sample", clean],
        "export: a method of several passes": ["export", d / "nrrn_model", d / "pkg.zip", "--sample", clean],
        "export: unknown --format": ["export", model, d / "pkg.zip", "--format", "onnx"],
        "noise-model: two sources": ["noise-model", d / "nm.npz", "--estimate-from", clean, "--calibration", clean],
        "noise-model: output not .npz": ["noise-model", d / "nm.txt", "--estimate-from", clean],
        "train: corrupt noise-model .npz": [
            "train",
            clean,
            "--out",
            d / "new",
            "--method",
            "pn2v",
            "--noise-model",
            d / "corrupt.npz",
        ],
        "train: hostile noise-model .npz (pickle inside)": [
            "train",
            clean,
            "--out",
            d / "new",
            "--method",
            "pn2v",
            "--noise-model",
            d / "hostile.npz",
        ],
        "train: noise-model .npz of another program": [
            "train",
            clean,
            "--out",
            d / "new",
            "--method",
            "pn2v",
            "--noise-model",
            d / "foreign.npz",
        ],
        "predict: OME-Zarr whose axes do not match its array": [
            "predict",
            model,
            d / "wrong_axes.ome.zarr",
            d / "o.zarr",
        ],
        "predict: Zarr group without an image": ["predict", model, d / "empty_group.ome.zarr", d / "o.zarr"],
        "predict: output store written by another tool": ["predict", model, d / "clean.npy", d / "other_tool.zarr"],
        "predict: --scheduler that answers garbage": [
            "predict",
            model,
            d / "clean.npy",
            d / "o.zarr",
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
        ],
        "train --init: a stranger's model (YAML payload)": [
            "train",
            clean,
            "--out",
            d / "new",
            "--init",
            d / "stranger",
            *TINY,
        ],
        "train --init: a model of another network": [
            "train",
            clean,
            "--out",
            d / "new",
            "--init",
            d / "n2v_model",
            "--neighbors",
            "2",
            "--method",
            "n2stack",
            *TINY,
        ],
        "YAML in sections with a wrong type": ["train", clean, "--out", d / "new", "--config", d / "types.yaml"],
        "YAML with a section that is no mapping": ["train", clean, "--out", d / "new", "--config", d / "section.yaml"],
        "YAML with another method's option": ["train", clean, "--out", d / "new", "--config", d / "other_method.yaml"],
        "predict: an output path for TIFF that is a folder": ["predict", model, clean, d / "notamodel"],
        "evaluate: output of the wrong kind": ["evaluate", clean, d / "corrupt.npz"],
        "predict: --uncertainty into a .zarr": [
            "predict",
            model,
            d / "clean.npy",
            d / "o.zarr",
            "--uncertainty",
            d / "s.zarr",
        ],
    }


def train_cases(d: Path) -> dict[str, list]:
    """Bad inputs of ``noise2stack train``."""
    out = ["--out", d / "new"]
    clean = ["train", d / "clean.tif"]
    return {
        "missing file": ["train", d / "missing.tif", *out],
        "corrupt TIFF": ["train", d / "corrupt.tif", *out],
        "truncated compressed TIFF": ["train", d / "truncated.tif", *out],
        "unsupported format (PNG)": ["train", d / "image.png", *out],
        "NIfTI (not supported yet)": ["train", d / "volume.nii.gz", *out],
        "bool array": ["train", d / "bool.npy", *out],
        "complex array": ["train", d / "complex.npy", *out],
        "object array (pickle inside .npy)": ["train", d / "object.npy", *out],
        "empty array": ["train", d / "empty.npy", *out],
        "--axes do not match": [*clean, "--axes", "YX", *out],
        "invalid --axes": [*clean, "--axes", "ZYXQ", *out],
        "2-D image for Noise2Stack": ["train", d / "plane.tif", "--axes", "YX", *out],
        "fewer planes than needed": ["train", d / "short.tif", "--neighbors", "4", *out],
        "odd --neighbors": [*clean, "--neighbors", "3", *out],
        "--mode copy without --target": [*clean, "--mode", "copy", *out],
        "target of another shape": [*clean, "--mode", "copy", "--target", d / "other.tif", *out],
        "patch larger than planes": [*clean, "--patch", "64", *out],
        "NaN in input": ["train", d / "nan.tif", *out],
        "--patch 0": [*clean, "--patch", "0", *out],
        "--batch 0": [*clean, "--batch", "0", *out],
        "--epochs 0": [*clean, "--epochs", "0", *out],
        "huge --batch and --patch (memory)": [*clean, "--batch", "4096", "--patch", "4096", *out],
        "unknown method": [*clean, "--method", "magic", *out],
        "unknown net": [*clean, "--net", "resnet", *out],
        "unknown option": [*clean, "--bogus", "1", *out],
        "option of the wrong type": [*clean, "--epochs", "many", *out],
        "YAML with wrong types": [*clean, "--config", d / "bad.yaml", *out],
        "YAML with an unknown key": [*clean, "--config", d / "unknown.yaml", *out],
        "YAML with a Python payload": [*clean, "--config", d / "payload.yaml", *out],
        "existing model folder": [*clean, "--out", d / "model", *TINY],
        "output folder missing": [*clean, "--out", d / "no" / "such" / "dir"],
    }


def other_cases(d: Path) -> dict[str, list]:
    """Bad inputs of the other commands."""
    model, clean, out = d / "model", d / "clean.tif", d / "o.tif"
    return {
        "output folder is a file": ["simulate", clean, d / "afile" / "o.tif", "--noise", "gaussian", "--sigma", "1"],
        "--resume without a checkpoint": ["train", "--resume", d / "notamodel"],
        "predict: output equals input": ["predict", model, clean, clean],
        "predict: existing output": ["predict", model, clean, d / "plane.tif"],
        "predict: not a model folder": ["predict", d / "notamodel", clean, out],
        "predict: --tile 0": ["predict", model, clean, out, "--tile", "0"],
        "predict: NaN input": ["predict", model, d / "nan.tif", out],
        "predict: too few planes for the model": ["predict", model, d / "plane.tif", out, "--axes", "YX"],
        "evaluate: shapes differ": ["evaluate", clean, d / "other.tif"],
        "evaluate: unknown normalisation": ["evaluate", clean, clean, "--normalize", "zscore"],
        "simulate: Poisson without --peak": ["simulate", clean, out, "--noise", "poisson"],
        "simulate: unknown noise": ["simulate", clean, out, "--noise", "speckle"],
        "denoise: unknown filter": ["denoise", clean, out, "--method", "wiener"],
        "denoise: --sigma -1": ["denoise", clean, out, "--method", "nlm", "--sigma", "-1"],
        "missing argument": ["predict", model],
        "unknown command": ["frobnicate"],
    }


def run_cases(d: Path) -> list[tuple[str, int, int, bool, str]]:
    """(case, exit code, stderr lines, whether files were written, the last line the user sees)."""
    rows = []
    for name, args in {**train_cases(d), **other_cases(d), **newer_cases(d)}.items():
        before = sorted(p.name for p in d.rglob("*"))
        code, err = cli(*args)
        wrote = sorted(p.name for p in d.rglob("*")) != before
        lines = err.splitlines()
        shown = lines[-1].replace(str(d), "…") if lines else "(nothing)"
        rows.append((name, code, len(lines), wrote, shown))
        print(f"{code} {name}: {shown}")
    return rows


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        make_inputs(Path(tmp))
        rows = run_cases(Path(tmp))
    ok = all(code == 2 and n == 1 and not wrote for _, code, n, wrote, _ in rows)
    table = "| bad input | exit | lines | wrote files | what the user sees |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {name} | {code} | {n} | {'yes' if wrote else 'no'} | `{shown}` |" for name, code, n, wrote, shown in rows
    )
    body = f"{len(rows)} cases; every one exits 2 with one line and writes nothing: {'yes' if ok else 'NO'}.\n\n{table}"
    write_result(
        __package__,
        "bad_inputs.md",
        "Bad input: what the user sees",
        body,
        seeds="input stack: numpy default_rng(0); the tiny model: the package's default seed",
        budget="one training step of batch 2 for the model the predict cases use",
        tuned="a random 7 x 40 x 36 stack",
        scored="the exit code, stderr lines and files written of each case",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
