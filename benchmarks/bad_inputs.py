"""Every bad input we know of, through the CLI entry point: what the user sees and the exit code.

python benchmarks/bad_inputs.py      # writes benchmarks/results/bad_inputs.md
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from common import write_result
from noise2stack.cli import main


def cli(*args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue().strip()


def main_script():
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(0)
        stack = (rng.random((7, 40, 36)) * 1000).astype(np.float32)
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
        tiny = ["--epochs", "1", "--steps-per-epoch", "1", "--patch", "16", "--batch", "2", "--quiet"]
        assert cli("train", d / "clean.tif", "--out", d / "model", *tiny)[0] == 0
        out = ["--out", d / "new"]
        cases = {
            "missing file": ["train", d / "missing.tif", *out],
            "corrupt TIFF": ["train", d / "corrupt.tif", *out],
            "truncated compressed TIFF": ["train", d / "truncated.tif", *out],
            "unsupported format (PNG)": ["train", d / "image.png", *out],
            "NIfTI (not supported yet)": ["train", d / "volume.nii.gz", *out],
            "bool array": ["train", d / "bool.npy", *out],
            "complex array": ["train", d / "complex.npy", *out],
            "object array (pickle inside .npy)": ["train", d / "object.npy", *out],
            "empty array": ["train", d / "empty.npy", *out],
            "--axes do not match": ["train", d / "clean.tif", "--axes", "YX", *out],
            "invalid --axes": ["train", d / "clean.tif", "--axes", "ZYXQ", *out],
            "2-D image for Noise2Stack": ["train", d / "plane.tif", "--axes", "YX", *out],
            "fewer planes than needed": ["train", d / "short.tif", "--neighbors", "4", *out],
            "odd --neighbors": ["train", d / "clean.tif", "--neighbors", "3", *out],
            "--mode copy without --target": ["train", d / "clean.tif", "--mode", "copy", *out],
            "target of another shape": ["train", d / "clean.tif", "--mode", "copy", "--target", d / "other.tif", *out],
            "patch larger than planes": ["train", d / "clean.tif", "--patch", "64", *out],
            "NaN in input": ["train", d / "nan.tif", *out],
            "--patch 0": ["train", d / "clean.tif", "--patch", "0", *out],
            "--batch 0": ["train", d / "clean.tif", "--batch", "0", *out],
            "--epochs 0": ["train", d / "clean.tif", "--epochs", "0", *out],
            "huge --batch and --patch (memory)": ["train", d / "clean.tif", "--batch", "4096", "--patch", "4096", *out],
            "unknown method": ["train", d / "clean.tif", "--method", "magic", *out],
            "unknown net": ["train", d / "clean.tif", "--net", "resnet", *out],
            "unknown option": ["train", d / "clean.tif", "--bogus", "1", *out],
            "option of the wrong type": ["train", d / "clean.tif", "--epochs", "many", *out],
            "YAML with wrong types": ["train", d / "clean.tif", "--config", d / "bad.yaml", *out],
            "YAML with an unknown key": ["train", d / "clean.tif", "--config", d / "unknown.yaml", *out],
            "YAML with a Python payload": ["train", d / "clean.tif", "--config", d / "payload.yaml", *out],
            "existing model folder": ["train", d / "clean.tif", "--out", d / "model", *tiny],
            "output folder missing": ["train", d / "clean.tif", "--out", d / "no" / "such" / "dir"],
            "output folder is a file": [
                "simulate",
                d / "clean.tif",
                d / "afile" / "o.tif",
                "--noise",
                "gaussian",
                "--sigma",
                "1",
            ],
            "--resume without a checkpoint": ["train", "--resume", d / "notamodel"],
            "predict: output equals input": ["predict", d / "model", d / "clean.tif", d / "clean.tif"],
            "predict: existing output": ["predict", d / "model", d / "clean.tif", d / "plane.tif"],
            "predict: not a model folder": ["predict", d / "notamodel", d / "clean.tif", d / "o.tif"],
            "predict: --tile 0": ["predict", d / "model", d / "clean.tif", d / "o.tif", "--tile", "0"],
            "predict: NaN input": ["predict", d / "model", d / "nan.tif", d / "o.tif"],
            "predict: too few planes for the model": [
                "predict",
                d / "model",
                d / "plane.tif",
                d / "o.tif",
                "--axes",
                "YX",
            ],
            "evaluate: shapes differ": ["evaluate", d / "clean.tif", d / "other.tif"],
            "evaluate: unknown normalisation": ["evaluate", d / "clean.tif", d / "clean.tif", "--normalize", "zscore"],
            "simulate: Poisson without --peak": ["simulate", d / "clean.tif", d / "o.tif", "--noise", "poisson"],
            "simulate: unknown noise": ["simulate", d / "clean.tif", d / "o.tif", "--noise", "speckle"],
            "denoise: unknown filter": ["denoise", d / "clean.tif", d / "o.tif", "--method", "wiener"],
            "denoise: --sigma -1": ["denoise", d / "clean.tif", d / "o.tif", "--method", "nlm", "--sigma", "-1"],
            "missing argument": ["predict", d / "model"],
            "unknown command": ["frobnicate"],
        }
        rows = []
        for name, args in cases.items():
            before = sorted(p.name for p in d.rglob("*"))
            code, err = cli(*args)
            wrote = sorted(p.name for p in d.rglob("*")) != before
            lines = err.splitlines()
            shown = lines[-1].replace(str(d), "…") if lines else "(nothing)"
            rows.append((name, code, len(lines), wrote, shown))
            print(f"{code} {name}: {shown}")
    ok = all(code == 2 and n == 1 and not wrote for _, code, n, wrote, _ in rows)
    table = "| bad input | exit | lines | wrote files | what the user sees |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {name} | {code} | {n} | {'yes' if wrote else 'no'} | `{shown}` |" for name, code, n, wrote, shown in rows
    )
    body = (
        f"{len(rows)} cases; every one exits 2 with one line and writes nothing: {'yes' if ok else 'NO'}.\n\n" + table
    )
    write_result("bad_inputs.md", "Bad input: what the user sees", body)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main_script())
