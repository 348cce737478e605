"""Peak memory of chunked prediction against the input's chunking and the volume's size (issue 25).

    python -m benchmarks.scale.chunkings --smoke     # seconds: tiny volumes, checks the machinery
    python -m benchmarks.scale.chunkings             # 1024 x 1024 planes, 16-128 planes per volume

A new user's case: a Zarr v3 input of 1024 x 1024 float32 planes stored in chunks of (8, 256, 256),
a tiny self-mode model, ``predict MODEL in.zarr out.zarr`` with every default (``--chunk-planes 32``,
threads, 1 job, float32). Each prediction runs in a fresh process whose peak RSS (VmHWM) is its own.
Beside it, other input chunkings: whole planes one at a time, (64, 512, 512), and one chunk along the
whole stack axis, whose every read decodes the whole volume: that one grows with the volume, and the
memory check counts it (``noise2stack.predict.chunked.input_read_bytes``).

Writes ``scale/results/chunkings.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import ROOT, cpu_model, flags_text, write_result
from benchmarks.scale._volumes import make_model, peak_rss_mib

#: (label, chunks or None for the stack's length along Z, precision, volumes in planes)
FULL = [
    ("(8, 256, 256), defaults", (8, 256, 256), "32", (16, 64, 128)),
    ("(1, 1024, 1024)", (1, 1024, 1024), "bf16", (64, 128)),
    ("(64, 512, 512)", (64, 512, 512), "bf16", (64, 128)),
    ("one chunk along Z", None, "bf16", (64, 128)),
]
SMOKE = [("(2, 32, 32), defaults", (2, 32, 32), "32", (6, 12)), ("one chunk along Z", None, "32", (6, 12))]


def make_input(path: Path, planes: int, side: int, chunks: tuple | None) -> None:
    """A random float32 Zarr v3 volume (planes, side, side) with ``chunks`` (None: one along Z)."""
    import zarr

    shape = (planes, side, side)
    chunks = (planes, side, side) if chunks is None else chunks
    array = zarr.create_array(str(path), shape=shape, chunks=chunks, dtype="float32", dimension_names=["z", "y", "x"])
    rng = np.random.default_rng(0)
    step = chunks[0]
    for z in range(0, planes, step):
        array[z : z + step] = rng.random((min(step, planes - z), side, side), dtype=np.float32) * 100 + 10


def one(case: dict) -> dict:
    """One prediction with the defaults (but ``precision``) in this process: seconds and peak RSS."""
    from noise2stack import api

    t0 = time.perf_counter()
    api.predict(case["model"], case["input"], case["out"], progress=False, precision=case["precision"])
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}


def in_subprocess(case: dict) -> dict:
    command = [sys.executable, "-m", "benchmarks.scale.chunkings", "--one", json.dumps(case)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows(folder: Path, cases: list, side: int, raw: dict) -> list[str]:
    """One table row per (chunking, volume), predicted in a fresh process."""
    import shutil

    lines = []
    for label, chunks, precision, volumes in cases:
        for planes in volumes:
            src = folder / f"in-{planes}.zarr"
            make_input(src, planes, side, chunks)
            case = {"model": str(folder / "model"), "input": str(src), "out": str(folder / "out.zarr")}
            r = raw[f"{label}, {planes} planes"] = in_subprocess({**case, "precision": precision})
            input_mib = planes * side * side * 4 / 2**20
            shown = chunks or (planes, side, side)
            lines.append(
                f"| {label} | {shown} | {planes} | {input_mib:.0f} | {precision} | {r['seconds']:.1f} | "
                f"{r['peak_rss_mib']:.0f} |"
            )
            print(lines[-1], flush=True)
            shutil.rmtree(src)
            shutil.rmtree(folder / "out.zarr")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one case (JSON), in a child process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    cases, side = (SMOKE, 64) if args.smoke else (FULL, 1024)
    raw: dict = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as tmp:
        folder = Path(tmp)
        make_model(folder / "model")
        table = rows(folder, cases, side, raw)
    body = "\n".join(
        [
            f"CPU: {cpu_model()}; flags: {flags_text()}; {os.cpu_count()} cores.",
            "",
            f"Random float32 volumes of {side} x {side} planes, Zarr v3 (zstd, the zarr default), predicted into "
            "OME-Zarr with `predict MODEL in.zarr out.zarr` and every default (`--chunk-planes 32`, threads, 1 job, "
            "`--tile 512`) but `--precision` where the row says bf16 (half the time; it is compared only within its "
            "chunking). Model: n2stack self, 4 neighbours (Table S1 U-Net), 2 steps on random data. Each row is a "
            "fresh process; peak RSS is its VmHWM.",
            "",
            "| input chunking | chunks | planes | input MiB | precision | seconds | peak RSS MiB |",
            "|---|---|---|---|---|---|---|",
            *table,
            "",
            f"Raw: `{json.dumps(raw)}`",
        ]
    )
    write_result(
        __package__,
        "chunkings.md",
        f"Chunked prediction's peak memory against input chunking and volume{' (smoke)' if args.smoke else ''}",
        body,
        smoke=args.smoke,
        seeds="volumes: numpy default_rng(0); model: training seed 0",
        budget="one prediction per row (fresh process)",
        tuned="nothing tuned (a random 16 x 64 x 64 stack trains the model 2 steps)",
        scored=f"peak RSS and time of predicting random {side} x {side} volumes",
    )


if __name__ == "__main__":
    main()
