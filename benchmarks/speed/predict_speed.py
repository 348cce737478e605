"""Prediction throughput side by side: the package's tiler against a bare forward pass, with and
without channels_last, on whole 256x256 planes (Table S1 net, 3 input planes).

    python -m benchmarks.speed.predict_speed [--planes 40] [--size 256] [--rounds 2]

Random weights and a random stack: the time does not depend on either. The variants run interleaved
``--rounds`` times after one warm-up each. Writes ``speed/results/predict_speed.md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.harness import markdown_table, write_result
from noise2stack.data.sampler import plane_inputs  # internal: the network's input planes of one plane
from noise2stack.nets import build_net  # internal: a bare network, no model folder
from noise2stack.predict import predict_stack  # internal: the tiler without api.predict's file handling


def bare(net, stack: np.ndarray, batch: int, channels_last: bool) -> np.ndarray:
    """A forward pass over every plane (copy mode, 2 neighbours), ``batch`` planes at a time."""
    net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    out = np.empty_like(stack)
    with torch.inference_mode():
        for z0 in range(0, stack.shape[0], batch):
            x = torch.from_numpy(
                np.stack([plane_inputs(stack, z, 2, True) for z in range(z0, min(z0 + batch, stack.shape[0]))])
            )
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out[z0 : z0 + len(x)] = net(x)[:, 0].numpy()
    return out


def variants(net, stack: np.ndarray) -> dict:
    """label -> a call that predicts the whole stack one way."""
    out = {}
    for batch, layout in ((4, True), (4, False), (1, True), (1, False)):
        name = "channels_last" if layout else "default layout"
        out[f"bare forward, {name}, batch {batch}"] = lambda b=batch, cl=layout: bare(net, stack, b, cl)
    for batch, layout in ((4, True), (4, False), (1, False), (1, True)):
        name = "channels_last" if layout else "default layout"
        out[f"predict_stack, {name}, batch {batch}"] = lambda b=batch, cl=layout: predict_stack(
            net, stack, 2, True, batch=b, channels_last=cl
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=40)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="write to results/smoke/ (use with --planes 2)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    net = build_net("csbdeep-unet", 3, [1]).eval()
    stack = np.random.default_rng(0).random((args.planes, args.size, args.size), dtype=np.float32)
    calls = variants(net, stack)
    for fn in calls.values():
        fn()  # warm-up
    rates = {k: [] for k in calls}
    for _ in range(args.rounds):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            rates[name].append(stack.size / (time.perf_counter() - t0) / 1e6)
    ref = float(np.mean(rates["bare forward, channels_last, batch 4"]))
    rows = [[k, float(np.mean(v)), float(np.mean(v)) / ref] for k, v in rates.items()]
    body = (
        f"{args.planes} planes of {args.size}x{args.size}, Table S1 net (copy mode, 2 neighbours: 3 input planes), "
        f"whole planes (no tiling), {args.rounds} interleaved rounds after a warm-up.\n\n"
        + markdown_table(["variant", "MVox/s", "ratio to bare channels_last batch 4"], rows)
    )
    print(body)
    write_result(
        __package__,
        "predict_speed.md",
        "Prediction throughput: tiler overhead and memory layout",
        body,
        smoke=args.smoke,
        seeds="torch 0 (weights), numpy default_rng(0) (stack)",
        budget=f"{args.rounds} interleaved rounds after a warm-up",
        tuned="nothing (random weights)",
        scored=f"time to predict a random {args.planes} x {args.size} x {args.size} stack",
    )


if __name__ == "__main__":
    main()
