"""Scale benchmark (issue 11): chunked vs in-memory prediction, streamed vs in-memory training patches,
a two-worker LocalCluster vs the threads scheduler.

    python benchmarks/scale.py --smoke        # seconds, tiny volumes: checks the machinery
    python benchmarks/scale.py                # base 64 x 1024 x 1024 float32 (256 MiB); 16x = 4 GiB

Each prediction runs in a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own. The
model has random weights (speed does not depend on training). Results: benchmarks/results/scale[_smoke].md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(os.environ.get("RESULTS_DIR", Path(__file__).resolve().parent / "results"))


def make_model(folder: Path) -> None:
    import torch

    from noise2stack.config import make_config
    from noise2stack.data.normalize import Normalizer
    from noise2stack.model import Model

    torch.manual_seed(0)
    Model(make_config(neighbors=4), Normalizer("percentile", 0.0, 1.0)).save(folder)


def make_volume(path: Path, shape: tuple, chunk_planes: int) -> None:
    """A random float32 Zarr volume (written plane block by plane block) and the same as .npy."""
    import zarr

    array = zarr.create_array(str(path.with_suffix(".zarr")), shape=shape, chunks=(chunk_planes, min(shape[1], 1024), min(shape[2], 1024)),
                              dtype="float32", dimension_names=["z", "y", "x"])
    npy = np.lib.format.open_memmap(path.with_suffix(".npy"), mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(0)
    for z in range(0, shape[0], chunk_planes):
        block = rng.random((min(chunk_planes, shape[0] - z),) + shape[1:], dtype=np.float32)
        array[z : z + block.shape[0]] = block
        npy[z : z + block.shape[0]] = block
    npy.flush()


def one(case: dict) -> dict:
    """Run one prediction in this process; report seconds and peak RSS."""
    from noise2stack import api

    t0 = time.perf_counter()
    if case["how"] == "memory":
        api.predict(case["model"], case["input"] + ".npy", case["out"] + ".npy", axes="ZYX", progress=False)
    else:
        api.predict(case["model"], case["input"] + ".zarr", case["out"] + ".zarr", chunk_planes=case["chunk"],
                    scheduler=case.get("scheduler", "threads"), progress=False)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(case: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", json.dumps(case)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_rate(folder: Path, shape: tuple, steps: int) -> dict:
    """Patches/s drawn from the loaded stack vs streamed from the Zarr store (batch 16, patch 64)."""
    import functools

    from noise2stack.data.normalize import Normalizer
    from noise2stack.data.patches import PatchSource
    from noise2stack.data.streaming import NormalizedStack, StackView
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
        t0 = time.perf_counter()
        for step in range(steps):
            draw_batch(source, lambda i, t, r: (i, t, None), 16, np.random.default_rng(step))
        out[name] = steps * 16 / (time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--one")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    base = (8, 96, 96) if args.smoke else (64, 1024, 1024)
    chunk = 4 if args.smoke else 16
    factors = (1, 4, 16)
    lines = [f"# Scale benchmark{' (smoke)' if args.smoke else ''}", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; base volume {base} float32, "
             f"chunked with --chunk-planes {chunk} (threads, 1 job); random-weight n2stack model, 4 neighbours.", "",
             "| volume | voxels | how | seconds | MVox/s | peak RSS MiB |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_model(folder / "model")
        for f in factors:
            shape = (base[0] * f,) + base[1:]
            make_volume(folder / f"v{f}", shape, chunk)
            voxels = int(np.prod(shape))
            for how in ("memory", "chunked"):
                r = in_subprocess({"model": str(folder / "model"), "input": str(folder / f"v{f}"),
                                   "out": str(folder / f"o{f}-{how}"), "how": how, "chunk": chunk})
                lines.append(f"| {f}x | {voxels:,} | {how} | {r['seconds']:.2f} | {voxels / r['seconds'] / 1e6:.3f} | {r['peak_rss_mib']:.0f} |")
                print(lines[-1], flush=True)
        rates = training_rate(folder, base, 5 if args.smoke else 50)
        lines += ["", "| training patches from | patches/s |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in rates.items()]
        from distributed import LocalCluster

        shape = (base[0] * 4,) + base[1:]
        voxels = int(np.prod(shape))
        lines += ["", f"| scheduler (4x volume) | seconds | MVox/s |", "|---|---|---|"]
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            for name, scheduler in (("threads", "threads"), ("LocalCluster 2x1", cluster.scheduler_address)):
                r = in_subprocess({"model": str(folder / "model"), "input": str(folder / "v4"), "out": str(folder / f"c-{name[:5]}"),
                                   "how": "chunked", "chunk": chunk, "scheduler": scheduler})
                lines.append(f"| {name} | {r['seconds']:.2f} | {voxels / r['seconds'] / 1e6:.3f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("scale_smoke.md" if args.smoke else "scale.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
