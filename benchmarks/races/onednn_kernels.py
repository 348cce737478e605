"""Which oneDNN kernels a float32 training step runs, and how close to the CPU's peak they get (issue 13).

    python -m benchmarks.races.onednn_kernels [--steps 3] [--smoke] [--venv benchmarks/.peers-venv] [--name onednn_kernels]

The Table S1 U-Net, batch 16 of 64 x 64 (the races.peers training set-up): forward, a mean squared
loss and backward, in channels_last (the package's layout) and in the default NCHW layout, each in a
fresh process with ``ONEDNN_VERBOSE=1``; with ``--venv``, CAREamics' default N2V U-Net (the same
convolutions, plus batch norm) in its own layout, NCHW. The first step is a warm-up; the kernels of
the later steps are summed per (pass, layer shape). GFLOP/s counts 2 x multiply-adds of a direct
3 x 3 convolution. Where a step is dominated by these kernels, no change outside them (data,
Lightning, optimiser) can make it much faster: it says how much of a lead over another PyTorch tool a
CPU allows. Writes ``races/results/<--name>.md``.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.harness import cpu_model, flags_text, markdown_table, write_result

# argv: who (ours | theirs), layout (channels_last | nchw), steps after a warm-up, mode: "kernels" (no
# optimiser, each step announced for ONEDNN_VERBOSE's lines) or "plain" (median ms of forward, MSE,
# backward and a per-tensor Adam step). Internal: noise2stack.nets.build_net, a bare network.
STEP = r"""
import sys, time, statistics, torch
who, layout, steps, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
layout = torch.channels_last if layout == "channels_last" else torch.contiguous_format
torch.manual_seed(0)
if who == "theirs":  # CAREamics' default N2V U-Net (depth 2, 32 filters, batch norm)
    from careamics.config import create_n2v_config
    from careamics.models.model_factory import model_factory
    config = create_n2v_config(experiment_name="x", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16, num_epochs=1)
    net = model_factory(config.algorithm_config.model)
else:
    from noise2stack.nets import build_net
    net = build_net("csbdeep-unet", 1)
net = net.to(memory_format=layout)
x = torch.randn(16, 1, 64, 64).contiguous(memory_format=layout)
opt = torch.optim.Adam(net.parameters(), lr=1e-4) if mode == "plain" else None
times = []
for step in range(steps + (3 if opt else 1)):
    if opt is None:
        print(f"@@step {step}", flush=True)
    t0 = time.perf_counter()
    net.zero_grad(set_to_none=True)
    (net(x) - x).square().mean().backward()
    if opt is not None:
        opt.step()
    times.append(time.perf_counter() - t0)
if opt is not None:
    print("@@ms", statistics.median(times[3:]) * 1000)
"""

SHAPE = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)")
KERNEL_HEADER = ["pass", "kernel", "layer (in -> out channels, side)", "calls", "ms per step", "share", "GFLOP/s"]


def run_step(python: str, who: str, layout: str, steps: int, mode: str) -> str:
    """Stdout of :data:`STEP` in a fresh interpreter (oneDNN verbose in "kernels" mode)."""
    env = dict(os.environ, ONEDNN_VERBOSE="1") if mode == "kernels" else None
    proc = subprocess.run([python, "-c", STEP, who, layout, str(steps), mode], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return proc.stdout


def kernels(python: str, who: str, layout: str, steps: int) -> tuple[dict, dict, float]:
    """{(pass, kernel, shape): ms per step}, {same key: calls per step}, and the per-step total of all
    oneDNN primitives."""
    timed = collections.defaultdict(float)
    calls = collections.defaultdict(float)
    step = -1
    for line in run_step(python, who, layout, steps, "kernels").splitlines():
        if line.startswith("@@step"):
            step = int(line.split()[1])
            continue
        fields = line.split(",")
        if step < 1 or len(fields) < 10 or fields[3] != "exec":
            continue
        primitive, kernel, propagation, ms = fields[5], fields[6], fields[7], float(fields[-1])
        match = SHAPE.search(fields[-2]) if primitive == "convolution" else None
        if match:
            _, ic, oc, ih, *_ = match.groups()
            key = (propagation, kernel, f"{ic} -> {oc}, {ih}²")
        else:
            key = (primitive, kernel, "")
        timed[key] += ms / steps
        calls[key] += 1 / steps
    return dict(timed), dict(calls), sum(timed.values())


def plain_step_ms(python: str, who: str, layout: str) -> float:
    """Median ms of a plain PyTorch step (forward, MSE, backward, Adam) of one U-Net, fresh process."""
    stdout = run_step(python, who, layout, 15, "plain")
    return float(next(line for line in stdout.splitlines() if line.startswith("@@ms")).split()[1])


def by_layer(timed: dict) -> dict:
    """{(pass, shape): ms} of the convolutions, whichever kernel ran them."""
    return {(what, shape): ms for (what, _, shape), ms in timed.items() if shape}


def gflops(shape: str) -> float:
    m = re.match(r"(\d+) -> (\d+), (\d+)²", shape)
    if not m:
        return float("nan")
    ic, oc, side = map(int, m.groups())
    return 2 * 16 * side * side * ic * oc * 9 / 1e9


def kernel_section(label: str, timed: dict, calls: dict, total: float) -> str:
    """The 14 costliest kernels of one net and layout."""
    rows = []
    for key, ms in sorted(timed.items(), key=lambda kv: -kv[1])[:14]:
        what, kernel, shape = key
        # a shape occurs several times per step (both halves of a split skip convolution, say)
        rate = calls[key] * gflops(shape) / (ms / 1000)
        share = f"{100 * ms / total:.0f} %"
        rows.append(
            [what, kernel, shape, f"{calls[key]:.0f}", f"{ms:.1f}", share, "" if math.isnan(rate) else f"{rate:.0f}"]
        )
    return f"### {label}: {total:.0f} ms of oneDNN kernels per step\n\n" + markdown_table(KERNEL_HEADER, rows)


def layout_table(channels_last: dict, nchw: dict) -> str:
    """The same layer in both layouts, per pass: where one layout's kernel is the slower."""
    cl_by, nchw_by = by_layer(channels_last), by_layer(nchw)
    rows = [
        [key[0], key[1], f"{cl_by[key]:.1f}", f"{nchw_by[key]:.1f}", f"{nchw_by[key] / cl_by[key]:.2f}"]
        for key in sorted(cl_by, key=lambda k: -cl_by[k])[:8]
        if key in nchw_by
    ]
    return markdown_table(["pass", "layer", "channels_last ms", "NCHW ms", "NCHW / channels_last"], rows)


def plain_section(theirs: str, smoke: bool) -> str:
    """A plain PyTorch step of each U-Net, alternating fresh processes."""
    plain = {"ours": [], "theirs": []}
    for _ in range(1 if smoke else 3):
        plain["ours"].append(plain_step_ms(sys.executable, "ours", "channels_last"))
        plain["theirs"].append(plain_step_ms(theirs, "theirs", "nchw"))
    ours_ms, theirs_ms = (statistics.median(plain[k]) for k in ("ours", "theirs"))
    return (
        "\n\n### A plain PyTorch step of each U-Net\n\nForward, MSE, backward, Adam (per-tensor), batch 16 of 64², "
        "no data loading and no Lightning; ours in channels_last, CAREamics' in NCHW, each in its own venv "
        f"(median of {len(plain['ours'])} alternating fresh processes of 15 steps): ours {ours_ms:.0f} ms, "
        f"CAREamics' {theirs_ms:.0f} ms, ratio {theirs_ms / ours_ms:.2f}. Runs: `{plain}`"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="onednn_kernels", help="result file name, without .md")
    parser.add_argument("--venv", type=Path, help="a CAREamics venv (races.peers --setup): profile its U-Net too")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps = 1
    ours = {"channels_last": "noise2stack, channels_last (its layout)", "nchw": "noise2stack, NCHW"}
    results = {label: kernels(sys.executable, "ours", layout, args.steps) for layout, label in ours.items()}
    theirs = str(args.venv / "bin" / "python") if args.venv else None
    if theirs:
        results["CAREamics' N2V U-Net (NCHW, its layout)"] = kernels(theirs, "theirs", "nchw", args.steps)
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}; "
        f"oneDNN kernels of a forward and backward pass of the Table S1 U-Net, batch 16 of 64², float32, "
        f"summed over {args.steps} steps after a warm-up, ms per step.\n\n"
        + "\n\n".join(kernel_section(label, *r) for label, r in results.items())
        + "\n\n### The same layers in both layouts\n\n"
        + layout_table(results[ours["channels_last"]][0], results[ours["nchw"]][0])
        + f"\n\nA 32 -> 32 convolution over 16 x 64² is {gflops('32 -> 32, 64²'):.2f} GFLOP per pass."
        + (plain_section(theirs, args.smoke) if theirs else "")
    )
    write_result(
        __package__,
        f"{args.name}.md",
        "oneDNN kernels of a training step",
        body,
        smoke=args.smoke,
        seeds="torch 0 (weights and the random batch)",
        budget=f"{args.steps} timed steps after a warm-up per net and layout; plain steps: 15 per process",
        tuned="nothing (random weights, a random batch)",
        scored="oneDNN kernel milliseconds per training step",
    )


if __name__ == "__main__":
    main()
