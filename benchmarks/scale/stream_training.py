"""Streaming training (issue 11, item 6): training patches/s from a Zarr store against from memory.

    python -m benchmarks.scale.stream_training --smoke   # seconds: checks the machinery
    python -m benchmarks.scale.stream_training           # 128 x 1024 x 1024 float32 (512 MiB) > the 256 MiB plane cache

Two measures on the same volume, one process, side by side:

1. Patches drawn (batch 16, 64 x 64, 4 neighbours, no network): the loaded volume; streamed with
   uniform draws over all planes (before ``LocalPlanes``); streamed with chunk-local blocks (now).
2. Whole training runs (``api.train``, n2stack self 4, 200 steps, default precision) from the .npy
   loaded in memory and streamed from the Zarr store with 0 and 1 data-loader workers: patches/s
   over the whole call, set-up included.

Writes ``scale/results/stream_training.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import cpu_model, flags_text, write_result
from benchmarks.scale._volumes import make_volume

DRAWS = ("memory", "zarr, uniform draws", "zarr, chunk-local blocks")


def draw_rates(folder: Path, shape: tuple, batches: dict, patch: int) -> dict:
    """Patches per second drawn (no network) from memory, and from the store without and with chunk-local blocks."""
    from noise2stack.data.normalize import Normalizer  # internal (this and below): the streaming sampler
    from noise2stack.data.patches import PatchSource
    from noise2stack.data.streaming import LocalPlanes, NormalizedStack, PlaneCache, StackView
    from noise2stack.io.zarr_io import inspect_volume, open_array
    from noise2stack.train.batches import TrainBatches

    norm = Normalizer("percentile", 0.0, 1.0)
    spec = inspect_volume(folder / "v.zarr")
    planes = [(0, i) for i in range(shape[0])]
    out = {}
    for name in DRAWS:
        if name == "memory":
            stack = norm.normalize(np.load(folder / "v.npy"))
        else:
            view = StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape)
            stack = NormalizedStack(view, norm, PlaneCache())
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
    """Whole ``api.train`` runs from the loaded .npy and streamed from the store (0 and 1 workers)."""
    from noise2stack import api

    out = {}
    kwargs = dict(neighbors=4, patch=patch, batch=16, epochs=1, steps_per_epoch=steps, val_patches=16)
    for name, source, workers in (
        ("memory (.npy loaded)", "v.npy", 0),
        ("zarr, 0 workers", "v.zarr", 0),
        ("zarr, 1 worker", "v.zarr", 1),
    ):
        t0 = time.perf_counter()
        model = api.train(
            str(folder / source), folder / "m", num_workers=workers, progress=False, overwrite=True, **kwargs
        )
        seconds = time.perf_counter() - t0
        out[name] = {
            "seconds": seconds,
            "patches_per_s": steps * 16 / seconds,
            "precision": model.config.training.precision,
        }
        print(f"{name}: {out[name]}", flush=True)
    return out


def shrink_cache_for_smoke() -> None:
    """A 256 MiB cache would hold the smoke volume: shrink it to 4 MiB so that blocks are used."""
    from noise2stack.data import streaming  # internal: the default cache size

    streaming.DEFAULT_CACHE_BYTES = 4 * 2**20
    streaming.PlaneCache.__init__.__defaults__ = (streaming.DEFAULT_CACHE_BYTES,)


def report(shape: tuple, chunk: int, patch: int, steps: int, smoke: bool, draws: dict, trains: dict) -> str:
    mib = int(np.prod(shape)) * 4 / 2**20
    lines = [
        f"CPU: {cpu_model()}; flags: {flags_text()}; {os.cpu_count()} cores.",
        "",
        f"Volume {shape} float32 ({mib:.0f} MiB, random values), Zarr v3 uncompressed, chunks of {chunk} planes of "
        f"{shape[1]} x {shape[2]}; plane cache {'4' if smoke else '256'} MiB (the default `--stream-cache-mb`), so the "
        f"volume does not fit in it. Batches of 16 patches of {patch} x {patch}, 4 neighbours.",
        "",
        "Patches drawn, no network:",
        "",
        "| training patches from | patches/s | ratio to memory |",
        "|---|---|---|",
        *[f"| {k} | {v:,.0f} | {v / draws['memory']:.3f} |" for k, v in draws.items()],
    ]
    if trains:
        base = trains["memory (.npy loaded)"]["patches_per_s"]
        lines += [
            "",
            f"Whole training runs (`api.train`, n2stack self 4, {steps} steps, precision "
            f"{next(iter(trains.values()))['precision']}), set-up included:",
            "",
            "| training from | seconds | patches/s | ratio to memory |",
            "|---|---|---|---|",
            *[
                f"| {k} | {v['seconds']:.1f} | {v['patches_per_s']:.1f} | {v['patches_per_s'] / base:.2f} |"
                for k, v in trains.items()
            ],
        ]
    return "\n".join(lines + ["", f"Raw: `{json.dumps({'draws': draws, 'train': trains})}`"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    shape, chunk = ((24, 256, 256), 4) if args.smoke else ((128, 1024, 1024), 16)
    patch, steps = (32, 10) if args.smoke else (64, 200)
    batches = dict(zip(DRAWS, (20, 3, 20) if args.smoke else (400, 10, 400)))
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        make_volume(folder / "v", shape, chunk)
        if args.smoke:
            shrink_cache_for_smoke()
        draws = draw_rates(folder, shape, batches, patch)
        trains = train_rates(folder, steps, patch) if not args.smoke else {}
    write_result(
        __package__,
        "stream_training.md",
        f"Streaming training{' (smoke)' if args.smoke else ''}",
        report(shape, chunk, patch, steps, args.smoke, draws, trains),
        smoke=args.smoke,
        seeds="volume: numpy default_rng(0); batches 0; training: the package's default",
        budget=f"{batches['memory']} / {batches['zarr, uniform draws']} / {batches['zarr, chunk-local blocks']} "
        f"batches drawn; {steps} training steps per run",
        tuned=f"a random {shape} volume (self-supervised, no score)",
        scored="patches per second",
    )


if __name__ == "__main__":
    main()
