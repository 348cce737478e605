"""Whole-process float32 prediction with and without its two levers (issue 13, item 3).

    python benchmarks/predict_levers.py [--planes 64] [--rounds 3] [--nets csbdeep-unet n2n-unet] [--smoke]

Each run is ``noise2stack predict MODEL STACK OUT --precision 32`` in a fresh process, from start to
written TIFF, on the ISBI EM volumes stacked (``--planes`` planes of 512 x 512, as ``peers.py``).
The model: Noise2Void with the given net (its weights do not change the time). The levers, switched
off from outside the package in the process that runs the command:

* fused convolutions: ``nets.unet.fused_inference`` (oneDNN's convolution + activation, and the
  sum of the two halves of a convolution over a skip connection instead of the concatenation);
* heap reuse: ``resources.reuse_freed_memory`` around the tiler (glibc maps every block above
  32 MiB afresh and the first write of each page faults).

The modes alternate within every round; the table gives medians and the ratio to "neither".
Writes benchmarks/results/predict_levers.md (CPU flags included). ``--smoke``: 4 planes, 1 round.
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

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import SHARED, markdown_table, write_result  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

MODES = {
    "both (the default)": (),
    "no fused convolutions": ("fused",),
    "no heap reuse": ("heap",),
    "neither (before)": ("fused", "heap"),
}

RUN = r"""
import contextlib, json, resource, sys
off = set(json.loads(sys.argv[1]))
if "fused" in off:
    import noise2stack.nets.unet as unet
    unet.fused_inference = lambda x: False
if "heap" in off:
    import noise2stack.predict.cut as cut, noise2stack.predict.tiling as tiling
    tiling.reuse_freed_memory = cut.reuse_freed_memory = contextlib.nullcontext
from noise2stack.cli import app
sys.argv = ["noise2stack", "predict", *sys.argv[2:], "--quiet", "--overwrite", "--precision", "32"]
try:
    app()
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"sys": usage.ru_stime, "faults": usage.ru_minflt}), file=sys.stderr)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--planes", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nets", nargs="+", default=["csbdeep-unet", "n2n-unet"])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.planes, args.rounds = 4, 1
    from noise2stack import api
    from noise2stack.io.stacks import read_stack, write_stack

    train = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype(np.float32)
    test = read_stack(SHARED / "em_isbi2012_sstem/test_volume_zyx.tif").astype(np.float32)
    volume = np.concatenate([train, test, train, test])[: args.planes]
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_stack(tmp / "volume.tif", volume, "ZYX")
        for net in args.nets:
            api.train(
                train,
                tmp / net,
                method="n2v",
                net=net,
                patch=64,
                batch=4,
                epochs=1,
                steps_per_epoch=2,
                progress=False,
                precision="32",
            )
            seconds = {m: [] for m in MODES}
            usage = {m: [] for m in MODES}
            for r in range(args.rounds):
                for mode, off in MODES.items():
                    t0 = time.perf_counter()
                    proc = subprocess.run(
                        [
                            sys.executable,
                            "-c",
                            RUN,
                            json.dumps(off),
                            str(tmp / net),
                            str(tmp / "volume.tif"),
                            str(tmp / "out.tif"),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    elapsed = time.perf_counter() - t0
                    if proc.returncode != 0:
                        raise SystemExit(proc.stderr[-3000:])
                    seconds[mode].append(elapsed)
                    usage[mode].append(json.loads(proc.stderr.strip().splitlines()[-1]))
                    print(f"{net} {mode} #{r}: {elapsed:.2f} s, sys {usage[mode][-1]['sys']:.2f} s", flush=True)
            base = statistics.median(seconds["neither (before)"])
            for mode in MODES:
                s = statistics.median(seconds[mode])
                rows.append(
                    [
                        net,
                        mode,
                        f"{s:.2f}",
                        f"{volume.size / s / 1e6:.3f}",
                        f"{base / s:.2f}x",
                        f"{statistics.median(u['sys'] for u in usage[mode]):.2f}",
                        f"{statistics.median(u['faults'] for u in usage[mode]) / 1e3:.0f}",
                    ]
                )
            raw[net] = seconds
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; 2 torch threads. `noise2stack predict --precision 32` of "
        f"{args.planes} x 512 x 512 (ISBI EM), whole process from start to written TIFF, fresh process per run, "
        f"median of {args.rounds} alternating rounds.\n\n"
        + markdown_table(
            ["net", "levers", "seconds", "MVox/s", "speed vs neither", "system CPU s", "page faults (k)"], rows
        )
        + f"\n\nAll runs (s): `{json.dumps(raw)}`"
    )
    write_result(
        "predict_levers_smoke.md" if args.smoke else "predict_levers.md",
        "Float32 prediction: fused convolutions and heap reuse",
        body,
    )


if __name__ == "__main__":
    main()
