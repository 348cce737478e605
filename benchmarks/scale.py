"""Scale benchmark (issue 11): chunked vs in-memory prediction, streamed vs in-memory training patches,
a two-worker LocalCluster vs the threads scheduler.

    python benchmarks/scale.py --smoke        # seconds, tiny volumes: checks the machinery
    python benchmarks/scale.py                # base 128 x 1024 x 1024 float32 (512 MiB); 16x = 8 GiB on disk

Each prediction runs in a fresh subprocess so that its peak RSS (VmHWM) is its own. The
model (Table S1 U-Net, n2stack self, 4 neighbours) has random weights: speed does not depend on
training. ``--precision`` (default bf16: twice the throughput on CPUs with AVX512-BF16, so the
26 volume-units of prediction fit in about 40 minutes) applies to every row alike. In memory, the
16x volume is refused before it is read (it needs about 3x its size); that refusal is the row.
Results: benchmarks/results/scale[_smoke].md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def make_volume(path: Path, shape: tuple, chunk_planes: int, npy_data: bool = True) -> None:
    """A random float32 Zarr volume (written plane block by plane block) and the same as .npy
    (``npy_data=False``: an .npy of that shape whose data are never written, a sparse file)."""
    import zarr

    array = zarr.create_array(
        str(path.with_suffix(".zarr")),
        shape=shape,
        chunks=(chunk_planes, min(shape[1], 1024), min(shape[2], 1024)),
        dtype="float32",
        dimension_names=["z", "y", "x"],
        compressors=None,
    )
    npy = np.lib.format.open_memmap(path.with_suffix(".npy"), mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(0)
    for z in range(0, shape[0], chunk_planes):
        block = rng.random((min(chunk_planes, shape[0] - z),) + shape[1:], dtype=np.float32)
        array[z : z + block.shape[0]] = block
        if npy_data:
            npy[z : z + block.shape[0]] = block
    npy.flush()


def disk_bytes(path: Path) -> int:
    """Bytes a file or folder takes on disk (allocated blocks: a sparse file counts what it holds)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB. Not ``ru_maxrss``: after fork and exec that
    starts from the parent's resident size, so a child of a large parent reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def one(case: dict) -> dict:
    """Run one prediction in this process; report seconds and peak RSS."""
    from noise2stack import api
    from noise2stack.errors import Noise2StackError

    t0 = time.perf_counter()
    try:
        if case["how"] == "memory":
            api.predict(
                case["model"],
                case["input"] + ".npy",
                case["out"] + ".npy",
                axes="ZYX",
                progress=False,
                precision=case["precision"],
            )
        else:
            api.predict(
                case["model"],
                case["input"] + ".zarr",
                case["out"] + ".zarr",
                chunk_planes=case["chunk"],
                scheduler=case.get("scheduler", "threads"),
                progress=False,
                precision=case["precision"],
            )
    except Noise2StackError as exc:
        return {"refused": str(exc), "seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def in_subprocess(case: dict) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(case)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_rate(folder: Path, shape: tuple, steps: int) -> dict:
    """Patches/s drawn from the loaded stack vs streamed from the Zarr store (batch 16, patch 64)."""
    import functools

    from noise2stack.data.normalize import Normalizer
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
        local = (
            LocalPlanes(planes, [stack], 4, patch, 16, 0)
            if name == "zarr" and LocalPlanes.needed(planes, [stack])
            else None
        )
        t0 = time.perf_counter()
        for step in range(steps):  # chunk-local blocks as training draws them from a store
            draw_batch(source, lambda i, t, r: (i, t, None), 16, np.random.default_rng(step), local and local(0, step))
        out[name] = steps * 16 / (time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--precision", default="bf16", help="32 or bf16, for every prediction row")
    parser.add_argument("--one")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peers import cpu_flags, cpu_model

    base = (8, 96, 96) if args.smoke else (128, 1024, 1024)
    chunk = 4 if args.smoke else 16
    factors = (1, 4, 16)
    lines = [
        f"# Scale benchmark{' (smoke)' if args.smoke else ''}",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU: {cpu_model()}; flags: {cpu_flags()}; "
        f"{os.cpu_count()} cores; {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM.",
        "",
        f"Base volume {base} float32 (random values), Zarr v3 (uncompressed) with chunks of {chunk} planes; chunked prediction "
        f"with --chunk-planes {chunk} (threads, 1 job); in memory from .npy to .npy. Random-weight n2stack model "
        f"(Table S1 U-Net, self mode, 4 neighbours), --precision {args.precision}, default --tile 512. "
        "Each row is a fresh process; peak RSS is that process's.",
        "",
        "| volume | voxels | input on disk | how | seconds | MVox/s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    raw: dict = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as tmp:
        folder = Path(tmp)
        make_model(folder / "model")
        for f in factors:
            shape = (base[0] * f,) + base[1:]
            make_volume(folder / f"v{f}", shape, chunk, npy_data=f < 16)
            voxels = int(np.prod(shape))
            size = f"{disk_bytes(folder / f'v{f}.zarr') / 1e9:.2f} GB"
            for how in ("memory", "chunked"):
                r = in_subprocess(
                    {
                        "model": str(folder / "model"),
                        "input": str(folder / f"v{f}"),
                        "precision": args.precision,
                        "out": str(folder / f"o{f}-{how}"),
                        "how": how,
                        "chunk": chunk,
                    }
                )
                raw[f"{f}x {how}"] = r
                if "refused" in r:
                    lines.append(
                        f'| {f}x | {voxels:,} | {size} | {how} | refused in {r["seconds"]:.1f} s: "{r["refused"]}" | | {r["peak_rss_mib"]:.0f} |'
                    )
                else:
                    lines.append(
                        f"| {f}x | {voxels:,} | {size} | {how} | {r['seconds']:.1f} | {voxels / r['seconds'] / 1e6:.3f} | {r['peak_rss_mib']:.0f} |"
                    )
                print(lines[-1], flush=True)
                for p in folder.glob(f"o{f}-{how}*"):  # outputs are not needed again: free the disk
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
            if f > 1:
                for p in (folder / f"v{f}.zarr", folder / f"v{f}.npy"):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        rates = training_rate(folder, base, 5 if args.smoke else 50)
        lines += [
            "",
            "Training patches drawn (batch 16, 64 x 64, 4 neighbours, no network): the loaded 1x volume against "
            "the same streamed from its Zarr store (NormalizedStack, 1 GiB plane cache).",
            "",
            "| training patches from | patches/s |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:.0f} |" for k, v in rates.items()]
        raw["training"] = rates
        from distributed import LocalCluster

        voxels = int(np.prod(base))
        lines += [
            "",
            "Chunked prediction of the 1x volume: the threads scheduler (1 job, 2 torch threads) against a "
            "two-worker LocalCluster (1 thread each, each worker loads the model once).",
            "",
            "| scheduler (1x volume) | seconds | MVox/s |",
            "|---|---|---|",
        ]
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            for name, scheduler in (("threads", "threads"), ("LocalCluster 2x1", cluster.scheduler_address)):
                r = in_subprocess(
                    {
                        "model": str(folder / "model"),
                        "input": str(folder / "v1"),
                        "out": str(folder / f"c-{name[:5]}"),
                        "how": "chunked",
                        "chunk": chunk,
                        "scheduler": scheduler,
                        "precision": args.precision,
                    }
                )
                raw[f"scheduler {name}"] = r
                lines.append(f"| {name} | {r['seconds']:.1f} | {voxels / r['seconds'] / 1e6:.3f} |")
                print(lines[-1], flush=True)
    lines += ["", f"Raw: `{json.dumps(raw)}`"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("scale_smoke.md" if args.smoke else "scale.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
