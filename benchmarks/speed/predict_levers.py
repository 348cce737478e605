"""Whole-process float32 prediction with and without its two levers (issue 13, item 3).

    python -m benchmarks.speed.predict_levers [--planes 64] [--rounds 3] [--nets csbdeep-unet n2n-unet] [--smoke]

Each run is ``noise2stack predict MODEL STACK OUT --precision 32`` in a fresh process, from start to
written TIFF, on the ISBI EM volumes stacked (``--planes`` planes of 512 x 512, as races.peers).
The model: Noise2Void with the given net (its weights do not change the time). The levers, switched
off from outside the package in the process that runs the command:

* fused convolutions: ``nets.unet.fused_inference`` (oneDNN's convolution + activation, and the
  sum of the two halves of a convolution over a skip connection instead of the concatenation);
* heap reuse: ``reuse_freed_memory`` around the tiler (glibc maps every block above 32 MiB afresh
  and the first write of each page faults).

The modes alternate within every round; the table gives medians and the ratio to "neither".
Writes ``speed/results/predict_levers.md``. ``--smoke``: 4 planes, 1 round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    EM_TRAIN,
    cpu_model,
    em_volume,
    flags_text,
    load_stack,
    markdown_table,
    write_result,
    write_tiff,
)
from noise2stack import api

MODES = {
    "both (the default)": (),
    "no fused convolutions": ("fused",),
    "no heap reuse": ("heap",),
    "neither (before)": ("fused", "heap"),
}

# argv: the levers to switch off (JSON list), then predict's MODEL STACK OUT. Internal modules: the levers.
RUN = r"""
import contextlib, json, resource, sys
off = set(json.loads(sys.argv[1]))
if "fused" in off:
    import noise2stack.nets.unet as unet
    unet.fused_inference = lambda x: False
if "heap" in off:
    from noise2stack.predict import cut, tiling
    tiling.reuse_freed_memory = cut.reuse_freed_memory = contextlib.nullcontext
from noise2stack.cli import main
try:
    main(["predict", *sys.argv[2:], "--quiet", "--overwrite", "--precision", "32"])
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"sys": usage.ru_stime, "faults": usage.ru_minflt}), file=sys.stderr)
"""


def run_mode(off: tuple, model: Path, volume: Path, out: Path) -> tuple[float, dict]:
    """(wall seconds, {system CPU seconds, minor page faults}) of one ``predict`` process."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(off), str(model), str(volume), str(out)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return elapsed, json.loads(proc.stderr.strip().splitlines()[-1])


def measure_net(net: str, rounds: int, voxels: int, tmp: Path) -> tuple[list[list], dict]:
    """(one row per mode, all seconds) of one net."""
    train = load_stack(EM_TRAIN).astype("float32")
    options = dict(patch=64, batch=4, epochs=1, steps_per_epoch=2, progress=False, precision="32")
    api.train(train, tmp / net, method="n2v", net=net, **options)
    seconds = {m: [] for m in MODES}
    usage = {m: [] for m in MODES}
    for r in range(rounds):
        for mode, off in MODES.items():
            elapsed, used = run_mode(off, tmp / net, tmp / "volume.tif", tmp / "out.tif")
            seconds[mode].append(elapsed)
            usage[mode].append(used)
            print(f"{net} {mode} #{r}: {elapsed:.2f} s, sys {used['sys']:.2f} s", flush=True)
    base = statistics.median(seconds["neither (before)"])
    rows = []
    for mode in MODES:
        s = statistics.median(seconds[mode])
        system = statistics.median(u["sys"] for u in usage[mode])
        faults = statistics.median(u["faults"] for u in usage[mode]) / 1e3
        rows.append(
            [net, mode, f"{s:.2f}", f"{voxels / s / 1e6:.3f}", f"{base / s:.2f}x", f"{system:.2f}", f"{faults:.0f}"]
        )
    return rows, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nets", nargs="+", default=["csbdeep-unet", "n2n-unet"])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.planes, args.rounds = 4, 1
    volume = em_volume(args.planes)
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        write_tiff(Path(tmp) / "volume.tif", volume)
        for net in args.nets:
            net_rows, raw[net] = measure_net(net, args.rounds, volume.size, Path(tmp))
            rows += net_rows
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; 2 torch threads. `noise2stack predict --precision 32` of "
        f"{args.planes} x 512 x 512 (ISBI EM), whole process from start to written TIFF, fresh process per run, "
        f"median of {args.rounds} alternating rounds.\n\n"
        + markdown_table(
            ["net", "levers", "seconds", "MVox/s", "speed vs neither", "system CPU s", "page faults (k)"], rows
        )
        + f"\n\nAll runs (s): `{json.dumps(raw)}`"
    )
    write_result(
        __package__,
        "predict_levers.md",
        "Float32 prediction: fused convolutions and heap reuse",
        body,
        smoke=args.smoke,
        seeds="training: the package's default (2 steps: the weights do not change the time)",
        budget=f"{args.rounds} rounds of one fresh `predict` process per mode",
        tuned="ISBI EM train volume (2 training steps)",
        scored=f"time to predict {args.planes} planes of 512 x 512 (ISBI EM train and test volumes stacked)",
    )


if __name__ == "__main__":
    main()
