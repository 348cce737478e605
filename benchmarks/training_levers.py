"""Levers on the float32 step that `profile_step.py` left open (issue 13, item 3).

    python benchmarks/training_levers.py [--steps 40] [--rounds 2] [--smoke]

Training: Noise2Void, Table S1 U-Net, 64 x 64 patches, batch 16, ISBI EM train volume, float32 (the
`peers.py` set-up), the whole package step (``api.train``) timed between ``training_step`` calls,
variants interleaved ``--rounds`` times: today's default (Adam's fused kernel, a skip connection's
convolution as the sum of its two halves, ``nets.unet.conv_over_cat``, deterministic algorithms
without torch's NaN filling of new tensors) against Adam's per-tensor loop, the concatenation, the
NaN filling, all three (the package before 2026-12-02), Adam with ``foreach``, Lightning's
``deterministic=False``, and the loss logged per epoch only instead of per step.
Prediction: one forward pass of the same net on 512 x 512 planes (batch 1, channels_last, float32),
eager against ``torch.compile`` with and without inductor's weight freezing, each in a fresh process
with an empty compile cache (its warm-up counted). Writes benchmarks/results/training_levers.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import SHARED, markdown_table, write_result  # noqa: E402
from noise2stack import api  # noqa: E402
from noise2stack.io.stacks import read_stack  # noqa: E402
from noise2stack.nets import unet  # noqa: E402
from noise2stack.train.module import DenoiseModule  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

fit = importlib.import_module("noise2stack.train.fit")  # the module, not the function the package exports

FORWARD = r"""
import json, statistics, sys, time, warnings
import torch
from noise2stack.nets import build_net
warnings.filterwarnings("ignore")
mode, planes, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
net = build_net("csbdeep-unet", 1).eval().to(memory_format=torch.channels_last)
x = torch.randn(planes, 1, 1, side, side)
# eager: oneDNN's fused convolutions (nets.unet.fused_inference); compiled: inductor's own fusions
t0 = time.perf_counter()
if mode != "eager":
    import torch._inductor.config as inductor_config
    inductor_config.freezing = mode == "compile, freezing"
    net = torch.compile(net)
with torch.no_grad():
    net(x[0].contiguous(memory_format=torch.channels_last))
    warm = time.perf_counter() - t0
    times = []
    for i in range(planes):
        t1 = time.perf_counter()
        net(x[i].contiguous(memory_format=torch.channels_last))
        times.append(time.perf_counter() - t1)
print(json.dumps({"warm": warm, "step": statistics.median(times)}))
"""


def package_step(volume, steps: int, levers: tuple) -> float:
    """Median seconds between training_step calls of a float32 N2V run with these levers."""
    stamps = []
    original_step, original_opt, original_trainer = (
        DenoiseModule.training_step,
        DenoiseModule.configure_optimizers,
        fit.L.Trainer,
    )

    def timed(self, batch, batch_idx):
        stamps.append(time.perf_counter())
        if "epoch log" in levers:
            loss = self._loss(batch)
            self.log("loss", loss, on_step=False, on_epoch=True, batch_size=batch[0].shape[0])
            return loss
        return original_step(self, batch, batch_idx)

    DenoiseModule.training_step = timed
    original_split = unet.conv_over_cat
    if "cat" in levers:
        unet.conv_over_cat = lambda conv, x, skip: conv(torch.cat([x, skip], dim=1))
    if "loop" in levers:
        DenoiseModule.configure_optimizers = lambda self: torch.optim.Adam(
            self.net.parameters(), lr=self.lr, fused=False
        )
    if "foreach" in levers:
        DenoiseModule.configure_optimizers = lambda self: torch.optim.Adam(
            self.net.parameters(), lr=self.lr, foreach=True
        )
    if "nondeterministic" in levers:

        class Trainer(original_trainer):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **{**kwargs, "deterministic": False})

        fit.L.Trainer = Trainer
    if "fill" in levers:  # what deterministic=True did before the package switched the NaN filling off

        class Trainer(original_trainer):
            def fit(self, *args, **kwargs):
                torch.utils.deterministic.fill_uninitialized_memory = True
                return super().fit(*args, **kwargs)

        fit.L.Trainer = Trainer
    try:
        with tempfile.TemporaryDirectory() as tmp:
            api.train(
                volume,
                Path(tmp) / "m",
                method="n2v",
                net="csbdeep-unet",
                patch=64,
                batch=16,
                epochs=1,
                steps_per_epoch=steps + 5,
                progress=False,
                overwrite=True,
                precision="32",
            )
    finally:
        DenoiseModule.training_step, DenoiseModule.configure_optimizers, fit.L.Trainer = (
            original_step,
            original_opt,
            original_trainer,
        )
        unet.conv_over_cat = original_split
    return float(np.median(np.diff(stamps[5:])))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="6 steps, 1 round, 2 planes of 64 x 64")
    args = parser.parse_args()
    planes, side = (12, 512)
    if args.smoke:
        args.steps, args.rounds, planes, side = 6, 1, 2, 64
    volume = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype(np.float32)
    variants = {
        "today's default (fused Adam, split skip convolutions, no NaN fill)": (),
        "Adam, per-tensor loop": ("loop",),
        "skip concatenated": ("cat",),
        "new tensors filled with NaN (deterministic=True's default)": ("fill",),
        "all three (the package before)": ("loop", "cat", "fill"),
        "Adam, foreach": ("foreach",),
        "deterministic=False": ("nondeterministic",),
        "loss logged per epoch only": ("epoch log",),
    }
    per = {k: [] for k in variants}
    for r in range(args.rounds):
        for name, levers in variants.items():
            per[name].append(package_step(volume, args.steps, levers))
        print(f"round {r}: " + ", ".join(f"{k}: {v[-1] * 1000:.0f} ms" for k, v in per.items()), flush=True)
    base = statistics.median(per["all three (the package before)"])
    train_rows = [
        [
            k,
            f"{statistics.median(v) * 1000:.0f}",
            f"{16 / statistics.median(v):.1f}",
            f"{base / statistics.median(v):.3f}x",
        ]
        for k, v in per.items()
    ]
    forward = {}
    for r in range(args.rounds):
        for mode in ("eager", "compile", "compile, freezing"):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
                proc = subprocess.run(
                    [sys.executable, "-c", FORWARD, mode, str(planes), str(side)],
                    capture_output=True,
                    text=True,
                    env=env,
                )
            if proc.returncode:
                print(f"{mode}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            forward.setdefault(mode, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(mode, forward[mode][-1], flush=True)
    eager = statistics.median(f["step"] for f in forward["eager"])
    forward_rows = []
    for mode, runs in forward.items():
        step, warm = statistics.median(f["step"] for f in runs), statistics.median(f["warm"] for f in runs)
        gain = eager - step
        pays = "–" if mode == "eager" else f"{warm / gain:.0f}" if gain > 0 else "never"
        forward_rows.append([mode, f"{step * 1000:.0f}", f"{eager / step:.3f}x", f"{warm:.1f}", pays])
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}.\n\n"
        f"Training: Noise2Void, Table S1 U-Net, 64 x 64, batch 16, float32, whole package step; median over {args.rounds} "
        f"interleaved round(s) of {args.steps} timed steps.\n\n"
        + markdown_table(["variant", "ms per step", "patches/s", "speed vs the package before"], train_rows)
        + f"\n\nPrediction: forward pass of the same net, {side} x {side}, batch 1, float32, channels_last; median over "
        f"{planes} planes and {args.rounds} fresh process(es) per mode, compile cache empty.\n\n"
        + markdown_table(["mode", "ms per plane", "speed vs eager", "warm-up s", "planes before it pays"], forward_rows)
    )
    write_result(
        "training_levers_smoke.md" if args.smoke else "training_levers.md",
        "Float32 levers: optimiser, logging, torch.compile",
        body,
    )


if __name__ == "__main__":
    main()
