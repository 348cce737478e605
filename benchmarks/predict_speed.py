"""Prediction throughput side by side: the package's tiler against a bare forward pass, with and
without channels_last, on whole 256x256 planes (Table S1 net, 3 input planes).

    python benchmarks/predict_speed.py [--planes 40] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from common import markdown_table, write_result
from noise2stack.data.sampler import plane_inputs
from noise2stack.nets import build_net
from noise2stack.predict import predict_stack


def bare(net, stack, batch, channels_last):
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--planes", type=int, default=40)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = build_net("csbdeep-unet", 3, [1]).eval()
    stack = np.random.default_rng(0).random((args.planes, args.size, args.size), dtype=np.float32)
    variants = {
        "bare forward, channels_last, batch 4": lambda: bare(net, stack, 4, True),
        "bare forward, default layout, batch 4": lambda: bare(net, stack, 4, False),
        "bare forward, channels_last, batch 1": lambda: bare(net, stack, 1, True),
        "bare forward, default layout, batch 1": lambda: bare(net, stack, 1, False),
        "predict_stack, channels_last, batch 4": lambda: predict_stack(
            net, stack, 2, True, batch=4, channels_last=True
        ),
        "predict_stack, default layout, batch 4": lambda: predict_stack(
            net, stack, 2, True, batch=4, channels_last=False
        ),
        "predict_stack, default layout, batch 1": lambda: predict_stack(
            net, stack, 2, True, batch=1, channels_last=False
        ),
        "predict_stack, channels_last, batch 1": lambda: predict_stack(
            net, stack, 2, True, batch=1, channels_last=True
        ),
    }
    for fn in variants.values():
        fn()  # warm-up
    rates = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
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
    write_result("predict_speed.md", "Prediction throughput: tiler overhead and memory layout", body)


if __name__ == "__main__":
    main()
