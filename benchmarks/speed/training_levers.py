"""Levers on the float32 step that speed.profile_step left open (issue 13, item 3).

    python -m benchmarks.speed.training_levers [--steps 40] [--rounds 2] [--smoke]

Training: Noise2Void, Table S1 U-Net, 64 x 64 patches, batch 16, ISBI EM train volume, float32 (the
races.peers set-up), the whole package step (``api.train``) timed between ``training_step`` calls,
variants interleaved ``--rounds`` times: today's default (Adam's fused kernel, a skip connection's
convolution as the sum of its two halves, ``nets.unet.conv_over_cat``, deterministic algorithms
without torch's NaN filling of new tensors) against Adam's per-tensor loop, the concatenation, the
NaN filling, all three (the package before 2026-12-02), Adam with ``foreach``, Lightning's
``deterministic=False``, and the loss logged per epoch only instead of per step.
Prediction: one forward pass of the same net on 512 x 512 planes (batch 1, channels_last, float32),
eager against ``torch.compile`` with and without inductor's weight freezing, each in a fresh process
with an empty compile cache (its warm-up counted). Writes ``speed/results/training_levers.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import (
    EM_TRAIN,
    cpu_model,
    flags_text,
    load_stack,
    markdown_table,
    run_python,
    training_step_times,
    write_result,
)
from noise2stack import api
from noise2stack.nets import unet  # internal (this and below): the levers switched off
from noise2stack.train.module import DenoiseModule

fit = importlib.import_module("noise2stack.train.fit")  # the module, not the function the package exports

VARIANTS = {
    "today's default (fused Adam, split skip convolutions, no NaN fill)": (),
    "Adam, per-tensor loop": ("loop",),
    "skip concatenated": ("cat",),
    "new tensors filled with NaN (deterministic=True's default)": ("fill",),
    "all three (the package before)": ("loop", "cat", "fill"),
    "Adam, foreach": ("foreach",),
    "deterministic=False": ("nondeterministic",),
    "loss logged per epoch only": ("epoch log",),
}

# argv: mode ("eager", "compile", "compile, freezing"), planes, side; prints warm-up and median seconds
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


def trainer_class(levers: tuple):
    """Lightning's Trainer as the package's fit uses it, changed by the trainer levers."""
    base = fit.L.Trainer
    if "nondeterministic" in levers:

        class Trainer(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **{**kwargs, "deterministic": False})

        return Trainer
    if "fill" in levers:  # what deterministic=True did before the package switched the NaN filling off

        class Trainer(base):
            def fit(self, *args, **kwargs):
                torch.utils.deterministic.fill_uninitialized_memory = True
                return super().fit(*args, **kwargs)

        return Trainer
    return base


@contextlib.contextmanager
def levers_off(levers: tuple):
    """Switch the given levers to their earlier (or alternative) state while the block runs."""
    saved = (DenoiseModule.training_step, DenoiseModule.configure_optimizers, fit.L.Trainer, unet.conv_over_cat)
    if "epoch log" in levers:

        def epoch_logged(self, batch, batch_idx):
            loss = self._loss(batch)
            self.log("loss", loss, on_step=False, on_epoch=True, batch_size=batch[0].shape[0])
            return loss

        DenoiseModule.training_step = epoch_logged
    if "cat" in levers:
        unet.conv_over_cat = lambda conv, x, skip: conv(torch.cat([x, skip], dim=1))
    adam = {"loop": {"fused": False}, "foreach": {"foreach": True}}
    for lever, kwargs in adam.items():
        if lever in levers:
            DenoiseModule.configure_optimizers = lambda self, kw=kwargs: torch.optim.Adam(
                self.net.parameters(), lr=self.lr, **kw
            )
    fit.L.Trainer = trainer_class(levers)
    try:
        yield
    finally:
        DenoiseModule.training_step, DenoiseModule.configure_optimizers, fit.L.Trainer, unet.conv_over_cat = saved


def package_step(volume: np.ndarray, steps: int, levers: tuple) -> float:
    """Median seconds between training_step calls of a float32 N2V run with these levers."""
    options = dict(method="n2v", net="csbdeep-unet", patch=64, batch=16, epochs=1, steps_per_epoch=steps + 5)
    with levers_off(levers), training_step_times() as stamps, tempfile.TemporaryDirectory() as tmp:
        api.train(volume, Path(tmp) / "m", progress=False, overwrite=True, precision="32", **options)
    return float(np.median(np.diff(stamps[5:])))


def forward_rows(rounds: int, planes: int, side: int) -> list[list]:
    """Eager against torch.compile (with and without freezing), each in fresh processes with an empty cache."""
    forward: dict[str, list[dict]] = {}
    for _ in range(rounds):
        for mode in ("eager", "compile", "compile, freezing"):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
                try:
                    out, _ = run_python(sys.executable, FORWARD, mode, planes, side, env=env)
                except SystemExit as exc:  # torch.compile needs a C++ compiler: report, do not stop
                    print(f"{mode}: failed: {str(exc)[-300:]}")
                    continue
            forward.setdefault(mode, []).append(out)
            print(mode, out, flush=True)
    eager = statistics.median(f["step"] for f in forward["eager"])
    rows = []
    for mode, runs in forward.items():
        step, warm = statistics.median(f["step"] for f in runs), statistics.median(f["warm"] for f in runs)
        gain = eager - step
        pays = "–" if mode == "eager" else f"{warm / gain:.0f}" if gain > 0 else "never"
        rows.append([mode, f"{step * 1000:.0f}", f"{eager / step:.3f}x", f"{warm:.1f}", pays])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="6 steps, 1 round, 2 planes of 64 x 64")
    args = parser.parse_args(argv)
    planes, side = (12, 512)
    if args.smoke:
        args.steps, args.rounds, planes, side = 6, 1, 2, 64
    volume = load_stack(EM_TRAIN).astype(np.float32)
    per = {k: [] for k in VARIANTS}
    for r in range(args.rounds):
        for name, levers in VARIANTS.items():
            per[name].append(package_step(volume, args.steps, levers))
        print(f"round {r}: " + ", ".join(f"{k}: {v[-1] * 1000:.0f} ms" for k, v in per.items()), flush=True)
    base = statistics.median(per["all three (the package before)"])
    train_rows = []
    for k, v in per.items():
        sec = statistics.median(v)
        train_rows.append([k, f"{sec * 1000:.0f}", f"{16 / sec:.1f}", f"{base / sec:.3f}x"])
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}.\n\n"
        f"Training: Noise2Void, Table S1 U-Net, 64 x 64, batch 16, float32, whole package step; median over {args.rounds} "
        f"interleaved round(s) of {args.steps} timed steps.\n\n"
        + markdown_table(["variant", "ms per step", "patches/s", "speed vs the package before"], train_rows)
        + f"\n\nPrediction: forward pass of the same net, {side} x {side}, batch 1, float32, channels_last; median over "
        f"{planes} planes and {args.rounds} fresh process(es) per mode, compile cache empty.\n\n"
        + markdown_table(
            ["mode", "ms per plane", "speed vs eager", "warm-up s", "planes before it pays"],
            forward_rows(args.rounds, planes, side),
        )
    )
    write_result(
        __package__,
        "training_levers.md",
        "Float32 levers: optimiser, logging, torch.compile",
        body,
        smoke=args.smoke,
        seeds="training: the package's default; forward pass: torch 0",
        budget=f"{args.rounds} round(s) of {args.steps} timed training steps per variant; {planes} planes per forward mode",
        tuned="ISBI EM train volume (N2V batches)",
        scored="seconds per training step and per forward pass",
    )


if __name__ == "__main__":
    main()
