"""Scale benchmark (issue 11): chunked vs in-memory prediction, streamed vs in-memory training patches,
a two-worker LocalCluster vs the threads scheduler.

    python -m benchmarks.scale.scale --smoke        # seconds, tiny volumes: checks the machinery
    python -m benchmarks.scale.scale                # base 128 x 1024 x 1024 float32 (512 MiB); 16x = 8 GiB on disk

Each prediction runs in a fresh subprocess so that its peak RSS (VmHWM) is its own. The model
(Table S1 U-Net, n2stack self, 4 neighbours) is trained for 2 steps on random data: speed does not
depend on the weights. ``--precision`` (default bf16: twice the throughput on CPUs with AVX512-BF16,
so the 26 volume-units of prediction fit in about 40 minutes) applies to every row alike. In memory,
the 16x volume is refused before it is read (it needs about 3x its size); that refusal is the row.
``SCALE_TMP`` picks the folder of the volumes (16 GB free for the full run).
Writes ``scale/results/scale.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import ROOT, cpu_model, flags_text, write_result
from benchmarks.scale._volumes import disk_bytes, make_model, make_volume, peak_rss_mib


def one(case: dict) -> dict:
    """Run one prediction in this process; report seconds and peak RSS (or the refusal)."""
    from noise2stack import api
    from noise2stack.errors import Noise2StackError  # the error api raises for refused input

    t0 = time.perf_counter()
    common = dict(progress=False, precision=case["precision"])
    try:
        if case["how"] == "memory":
            api.predict(case["model"], case["input"] + ".npy", case["out"] + ".npy", axes="ZYX", **common)
        else:
            scheduler = case.get("scheduler", "threads")
            inputs = (case["model"], case["input"] + ".zarr", case["out"] + ".zarr")
            api.predict(*inputs, chunk_planes=case["chunk"], scheduler=scheduler, **common)
    except Noise2StackError as exc:
        return {"refused": str(exc), "seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}


def in_subprocess(case: dict) -> dict:
    """:func:`one` in a fresh interpreter (its own peak RSS)."""
    command = [sys.executable, "-m", "benchmarks.scale.scale", "--one", json.dumps(case)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_rate(folder: Path, shape: tuple, steps: int) -> dict:
    """Patches/s drawn from the loaded stack vs streamed from the Zarr store (batch 16, patch 64)."""
    from noise2stack.data.normalize import Normalizer  # internal (this and below): the streaming sampler
    from noise2stack.data.patches import PatchSource
    from noise2stack.data.streaming import LocalPlanes, NormalizedStack, StackView
    from noise2stack.io.zarr_io import inspect_volume, open_array
    from noise2stack.train.batches import draw_batch

    norm = Normalizer("percentile", 0.0, 1.0)
    spec = inspect_volume(folder / "v1.zarr")
    view = NormalizedStack(StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape), norm)
    loaded = norm.normalize(np.load(folder / "v1.npy"))
    planes = [(0, i) for i in range(shape[0])]
    out = {}
    patch = min(64, shape[1])
    for name, stack in (("memory", loaded), ("zarr", view)):
        source = PatchSource([stack], [stack], planes, 4, False, patch)
        needed = name == "zarr" and LocalPlanes.needed(planes, [stack])
        local = LocalPlanes(planes, [stack], 4, patch, 16, 0) if needed else None
        t0 = time.perf_counter()
        for step in range(steps):  # chunk-local blocks as training draws them from a store
            draw_batch(source, lambda i, t, r: (i, t, None), 16, np.random.default_rng(step), local and local(0, step))
        out[name] = steps * 16 / (time.perf_counter() - t0)
    return out


def prediction_rows(folder: Path, base: tuple, chunk: int, precision: str, raw: dict) -> list[str]:
    """Table rows of the 1x, 4x and 16x volumes, in memory and chunked."""
    lines = []
    for f in (1, 4, 16):
        shape = (base[0] * f,) + base[1:]
        make_volume(folder / f"v{f}", shape, chunk, npy_data=f < 16)
        voxels = int(np.prod(shape))
        size = f"{disk_bytes(folder / f'v{f}.zarr') / 1e9:.2f} GB"
        for how in ("memory", "chunked"):
            case = {"model": str(folder / "model"), "input": str(folder / f"v{f}"), "precision": precision}
            r = raw[f"{f}x {how}"] = in_subprocess(
                {**case, "out": str(folder / f"o{f}-{how}"), "how": how, "chunk": chunk}
            )
            if "refused" in r:
                cells = f'refused in {r["seconds"]:.1f} s: "{r["refused"]}" | '
            else:
                cells = f"{r['seconds']:.1f} | {voxels / r['seconds'] / 1e6:.3f}"
            lines.append(f"| {f}x | {voxels:,} | {size} | {how} | {cells} | {r['peak_rss_mib']:.0f} |")
            print(lines[-1], flush=True)
            for p in folder.glob(f"o{f}-{how}*"):  # outputs are not needed again: free the disk
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        if f > 1:
            for p in (folder / f"v{f}.zarr", folder / f"v{f}.npy"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    return lines


def scheduler_rows(folder: Path, base: tuple, chunk: int, precision: str, raw: dict) -> list[str]:
    """Chunked prediction of the 1x volume: threads against a two-worker LocalCluster."""
    from distributed import LocalCluster

    voxels, lines = int(np.prod(base)), []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for name, scheduler in (("threads", "threads"), ("LocalCluster 2x1", cluster.scheduler_address)):
            case = {"model": str(folder / "model"), "input": str(folder / "v1"), "out": str(folder / f"c-{name[:5]}")}
            r = raw[f"scheduler {name}"] = in_subprocess(
                {**case, "how": "chunked", "chunk": chunk, "scheduler": scheduler, "precision": precision}
            )
            lines.append(f"| {name} | {r['seconds']:.1f} | {voxels / r['seconds'] / 1e6:.3f} |")
            print(lines[-1], flush=True)
    return lines


def report(base: tuple, chunk: int, args, tables: dict) -> str:
    """The result body: set-up, prediction rows, training patches, schedulers, raw figures."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        f"CPU: {cpu_model()}; flags: {flags_text()}; {os.cpu_count()} cores; {ram:.0f} GiB RAM.",
        "",
        f"Base volume {base} float32 (random values), Zarr v3 (uncompressed) with chunks of {chunk} planes; chunked "
        f"prediction with --chunk-planes {chunk} (threads, 1 job); in memory from .npy to .npy. n2stack model (Table S1 "
        f"U-Net, self mode, 4 neighbours, 2 training steps on random data), --precision {args.precision}, default "
        "--tile 512. Each row is a fresh process; peak RSS is that process's.",
        "",
        "| volume | voxels | input on disk | how | seconds | MVox/s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
        *tables["prediction"],
        "",
        "Training patches drawn (batch 16, 64 x 64, 4 neighbours, no network): the loaded 1x volume against "
        "the same streamed from its Zarr store (NormalizedStack, the default plane cache).",
        "",
        "| training patches from | patches/s |",
        "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in tables["training"].items()],
        "",
        "Chunked prediction of the 1x volume: the threads scheduler (1 job, 2 torch threads) against a "
        "two-worker LocalCluster (1 thread each, each worker loads the model once).",
        "",
        "| scheduler (1x volume) | seconds | MVox/s |",
        "|---|---|---|",
        *tables["schedulers"],
        "",
        f"Raw: `{json.dumps(tables['raw'])}`",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--precision", default="bf16", help="32 or bf16, for every prediction row")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one prediction case (JSON), in a child process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    base, chunk = ((8, 96, 96), 4) if args.smoke else ((128, 1024, 1024), 16)
    raw: dict = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as tmp:
        folder = Path(tmp)
        make_model(folder / "model")
        tables = {"prediction": prediction_rows(folder, base, chunk, args.precision, raw)}
        tables["training"] = raw["training"] = training_rate(folder, base, 5 if args.smoke else 50)
        tables["schedulers"] = scheduler_rows(folder, base, chunk, args.precision, raw)
    tables["raw"] = raw
    write_result(
        __package__,
        "scale.md",
        f"Scale benchmark{' (smoke)' if args.smoke else ''}",
        report(base, chunk, args, tables),
        smoke=args.smoke,
        seeds="volumes: numpy default_rng(0); model: training seed 0",
        budget="one prediction per row (fresh process); 5 or 50 batches of patches",
        tuned="a random 16 x 64 x 64 stack (2 steps: the weights do not change the time)",
        scored=f"time and peak memory of predicting random volumes of {base} x 1, 4, 16",
    )


if __name__ == "__main__":
    main()
