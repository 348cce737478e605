"""Streaming training (issue 11, item 6): training patches/s from a Zarr store against from memory.

    python benchmarks/stream_training.py --smoke   # seconds: checks the machinery
    python benchmarks/stream_training.py           # 128 x 1024 x 1024 float32 (512 MiB) > the 256 MiB plane cache

Two measures on the same volume, one process, side by side:

1. Patches drawn (batch 16, 64 x 64, 4 neighbours, no network): the loaded volume; streamed with
   uniform draws over all planes (before :class:`~noise2stack.data.streaming.LocalPlanes`); streamed
   with chunk-local blocks (now).
2. Whole training runs (``api.train``, n2stack self 4, 200 steps, default precision) from the .npy
   loaded in memory and streamed from the Zarr store with 0 and 1 data-loader workers: patches/s
   over the whole call, set-up included.

Results: benchmarks/results/stream_training[_smoke].md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("RESULTS_DIR", HERE / "results"))


def draw_rates(folder: Path, shape: tuple, batches: dict, patch: int) -> dict:
    from noise2stack.data.normalize import Normalizer
    from noise2stack.data.patches import PatchSource
    from noise2stack.data.streaming import LocalPlanes, NormalizedStack, PlaneCache, StackView
    from noise2stack.io.zarr_io import inspect_volume, open_array
    from noise2stack.train.batches import TrainBatches

    norm = Normalizer("percentile", 0.0, 1.0)
    spec = inspect_volume(folder / "v.zarr")
    planes = [(0, i) for i in range(shape[0])]
    out = {}
    for name in ("memory", "zarr, uniform draws", "zarr, chunk-local blocks"):
        if name == "memory":
            stack = norm.normalize(np.load(folder / "v.npy"))
        else:
            stack = NormalizedStack(
                StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape), norm, PlaneCache()
            )
        source = PatchSource([stack], [stack], planes, 4, False, patch)
        local = LocalPlanes(planes, [stack], 4, patch, 16, 0) if name.endswith("blocks") else None
        data = TrainBatches(source, lambda i, t, r: (i, t, None), 16, 0, local)
        t0 = time.perf_counter()
        for step in range(batches[name]):
            data[(0, step)]
        out[name] = batches[name] * 16 / (time.perf_counter() - t0)
        print(f"{name}: {out[name]:.0f} patches/s", flush=True)
    return out


def train_rates(folder: Path, steps: int, patch: int) -> dict:
    from noise2stack import api

    out = {}
    kwargs = dict(
        neighbors=4,
        patch=patch,
        batch=16,
        epochs=1,
        steps_per_epoch=steps,
        val_patches=16,
        progress=False,
        overwrite=True,
    )
    for name, source, workers in (
        ("memory (.npy loaded)", "v.npy", 0),
        ("zarr, 0 workers", "v.zarr", 0),
        ("zarr, 1 worker", "v.zarr", 1),
    ):
        t0 = time.perf_counter()
        model = api.train(str(folder / source), folder / "m", num_workers=workers, **kwargs)
        seconds = time.perf_counter() - t0
        out[name] = {"seconds": seconds, "patches_per_s": steps * 16 / seconds, "precision": model.config.precision}
        print(f"{name}: {out[name]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from peers import cpu_flags, cpu_model
    from scale import make_volume

    shape, chunk = ((24, 256, 256), 4) if args.smoke else ((128, 1024, 1024), 16)
    patch = 32 if args.smoke else 64
    batches = (
        {"memory": 20, "zarr, uniform draws": 3, "zarr, chunk-local blocks": 20}
        if args.smoke
        else {"memory": 400, "zarr, uniform draws": 10, "zarr, chunk-local blocks": 400}
    )
    steps = 10 if args.smoke else 200
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        make_volume(folder / "v", shape, chunk)
        if args.smoke:  # a 256 MiB cache would hold the smoke volume: shrink it so blocks are used
            from noise2stack.data import streaming

            streaming.DEFAULT_CACHE_BYTES = 4 * 2**20
            streaming.PlaneCache.__init__.__defaults__ = (streaming.DEFAULT_CACHE_BYTES,)
        draws = draw_rates(folder, shape, batches, patch)
        trains = train_rates(folder, steps, patch) if not args.smoke else {}
    mib = int(np.prod(shape)) * 4 / 2**20
    lines = [
        f"# Streaming training{' (smoke)' if args.smoke else ''}",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU: {cpu_model()}; flags: {cpu_flags()}; {os.cpu_count()} cores.",
        "",
        f"Volume {shape} float32 ({mib:.0f} MiB, random values), Zarr v3 uncompressed, chunks of {chunk} planes of "
        f"{shape[1]} x {shape[2]}; plane cache {'4' if args.smoke else '256'} MiB (the default `--stream-cache-mb`), so the volume "
        "does not fit in it. Batches of 16 patches of "
        f"{patch} x {patch}, 4 neighbours.",
        "",
        "Patches drawn, no network:",
        "",
        "| training patches from | patches/s | ratio to memory |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {v:,.0f} | {v / draws['memory']:.3f} |" for k, v in draws.items()]
    if trains:
        lines += [
            "",
            f"Whole training runs (`api.train`, n2stack self 4, {steps} steps, precision "
            f"{next(iter(trains.values()))['precision']}), set-up included:",
            "",
            "| training from | seconds | patches/s | ratio to memory |",
            "|---|---|---|---|",
        ]
        base = trains["memory (.npy loaded)"]["patches_per_s"]
        lines += [
            f"| {k} | {v['seconds']:.1f} | {v['patches_per_s']:.1f} | {v['patches_per_s'] / base:.2f} |"
            for k, v in trains.items()
        ]
    lines += ["", f"Raw: `{json.dumps({'draws': draws, 'train': trains})}`"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("stream_training_smoke.md" if args.smoke else "stream_training.md")).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
