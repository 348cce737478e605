"""Which oneDNN kernels a float32 training step runs, and how close to the CPU's peak they get (issue 13).

    python benchmarks/onednn_kernels.py [--steps 3] [--smoke] [--venv /tmp/peers-venv]

The Table S1 U-Net, batch 16 of 64 x 64 (the ``peers.py`` training set-up): forward, a mean squared
loss and backward, in channels_last (the package's layout) and in the default NCHW layout, each in a
fresh process with ``ONEDNN_VERBOSE=1``; with ``--venv``, CAREamics' default N2V U-Net (the same
convolutions, plus batch norm) in its own layout, NCHW. The first step is a warm-up; the kernels of the later steps
are summed per (pass, layer shape). GFLOP/s counts 2 x multiply-adds of a direct 3 x 3 convolution.
Where a step is dominated by these kernels, no change outside them (data, Lightning, optimiser)
can make it much faster: it says how much of a lead over another PyTorch tool a CPU allows.
Writes benchmarks/results/onednn_kernels.md (or ``--name``).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import markdown_table, write_result  # noqa: E402
from peers import cpu_flags, cpu_model  # noqa: E402

STEP = r"""
import sys, torch
from noise2stack.nets import build_net
layout = torch.channels_last if sys.argv[1] == "channels_last" else torch.contiguous_format
torch.manual_seed(0)
net = build_net("csbdeep-unet", 1).to(memory_format=layout)
x = torch.randn(16, 1, 64, 64).contiguous(memory_format=layout)
for step in range(int(sys.argv[2]) + 1):
    print(f"@@step {step}", flush=True)
    net.zero_grad(set_to_none=True)
    (net(x) - x).square().mean().backward()
"""

THEIRS_STEP = r"""
import sys, torch
from careamics.config import create_n2v_config
from careamics.models.model_factory import model_factory
config = create_n2v_config(experiment_name="x", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16, num_epochs=1)
torch.manual_seed(0)
net = model_factory(config.algorithm_config.model)  # its default N2V U-Net (depth 2, 32 filters, batch norm)
x = torch.randn(16, 1, 64, 64)
for step in range(int(sys.argv[2]) + 1):
    print(f"@@step {step}", flush=True)
    net.zero_grad(set_to_none=True)
    (net(x) - x).square().mean().backward()
"""

PLAIN_LOOP = r"""
import sys, time, statistics, torch
who = sys.argv[1]
torch.manual_seed(0)
if who == "theirs":
    from careamics.config import create_n2v_config
    from careamics.models.model_factory import model_factory
    c = create_n2v_config(experiment_name="x", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16, num_epochs=1)
    net = model_factory(c.algorithm_config.model); layout = torch.contiguous_format
else:
    from noise2stack.nets import build_net
    layout = torch.channels_last
    net = build_net("csbdeep-unet", 1).to(memory_format=layout)
opt = torch.optim.Adam(net.parameters(), lr=1e-4)
x = torch.randn(16, 1, 64, 64).contiguous(memory_format=layout)
def step():
    opt.zero_grad(set_to_none=True)
    (net(x) - x).square().mean().backward()
    opt.step()
for _ in range(3): step()
ts = []
for _ in range(15):
    t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
print("@@ms", statistics.median(ts) * 1000)
"""

SHAPE = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)")


def kernels(layout: str, steps: int, python: str = sys.executable, script: str = STEP) -> tuple[dict, dict, float]:
    """{(pass, kernel, shape): ms per step}, {same key: calls per step}, and the per-step total of all
    oneDNN primitives."""
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    proc = subprocess.run([python, "-c", script, layout, str(steps)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    timed = collections.defaultdict(float)
    calls = collections.defaultdict(float)
    step = -1
    for line in proc.stdout.splitlines():
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


def plain_step_ms(python: str, who: str) -> float:
    """Median ms of a plain PyTorch step (forward, MSE, backward, Adam) of one U-Net, fresh process."""
    proc = subprocess.run([python, "-c", PLAIN_LOOP, who], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return float(next(l for l in proc.stdout.splitlines() if l.startswith("@@ms")).split()[1])


def gflops(shape: str) -> float:
    m = re.match(r"(\d+) -> (\d+), (\d+)²", shape)
    if not m:
        return float("nan")
    ic, oc, side = map(int, m.groups())
    return 2 * 16 * side * side * ic * oc * 9 / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="onednn_kernels", help="result file name, without .md")
    parser.add_argument("--venv", type=Path, help="a CAREamics venv (benchmarks/peers.py --setup): profile its U-Net too")
    args = parser.parse_args()
    if args.smoke:
        args.steps = 1
    ours = {"channels_last": "noise2stack, channels_last (its layout)", "nchw": "noise2stack, NCHW"}
    results = {label: kernels(layout, args.steps) for layout, label in ours.items()}
    if args.venv:
        results["CAREamics' N2V U-Net (NCHW, its layout)"] = kernels("nchw", args.steps, str(args.venv / "bin" / "python"), THEIRS_STEP)
    sections = []
    for layout, (timed, calls, total) in results.items():
        rows = []
        for key, ms in sorted(timed.items(), key=lambda kv: -kv[1])[:14]:
            what, kernel, shape = key
            # a shape occurs several times per step (both halves of a split skip convolution, say)
            rate = calls[key] * gflops(shape) / (ms / 1000)
            rows.append([what, kernel, shape, f"{calls[key]:.0f}", f"{ms:.1f}", f"{100 * ms / total:.0f} %",
                         "" if rate != rate else f"{rate:.0f}"])
        sections.append(f"### {layout}: {total:.0f} ms of oneDNN kernels per step\n\n"
                        + markdown_table(["pass", "kernel", "layer (in -> out channels, side)", "calls", "ms per step", "share",
                                          "GFLOP/s"], rows))
    # the same layer in both layouts, per pass: where one layout's kernel is the slower
    both = []
    cl, nchw = results[ours["channels_last"]][0], results[ours["nchw"]][0]
    by = lambda timed: {(k[0], k[2]): v for k, v in timed.items() if k[2]}  # noqa: E731
    cl_by, nchw_by = by(cl), by(nchw)
    for key in sorted(cl_by, key=lambda k: -cl_by[k])[:8]:
        if key in nchw_by:
            both.append([key[0], key[1], f"{cl_by[key]:.1f}", f"{nchw_by[key]:.1f}", f"{nchw_by[key] / cl_by[key]:.2f}"])
    body = (f"CPU: {cpu_model()}; flags: {cpu_flags()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}; "
            f"oneDNN kernels of a forward and backward pass of the Table S1 U-Net, batch 16 of 64², float32, "
            f"summed over {args.steps} steps after a warm-up, ms per step.\n\n"
            + "\n\n".join(sections)
            + "\n\n### The same layers in both layouts\n\n"
            + markdown_table(["pass", "layer", "channels_last ms", "NCHW ms", "NCHW / channels_last"], both)
            + "\n\nA 32 -> 32 convolution over 16 x 64² is "
            f"{gflops('32 -> 32, 64²'):.2f} GFLOP per pass.")
    if args.venv:
        plain = {"ours": [], "theirs": []}
        for _ in range(1 if args.smoke else 3):  # alternating, fresh processes
            plain["ours"].append(plain_step_ms(sys.executable, "ours"))
            plain["theirs"].append(plain_step_ms(str(args.venv / "bin" / "python"), "theirs"))
        ours_ms, theirs_ms = (statistics.median(plain[k]) for k in ("ours", "theirs"))
        body += ("\n\n### A plain PyTorch step of each U-Net\n\nForward, MSE, backward, Adam (per-tensor), batch 16 of 64², "
                 "no data loading and no Lightning; ours in channels_last, CAREamics' in NCHW, each in its own venv "
                 f"(median of {len(plain['ours'])} alternating fresh processes of 15 steps): ours {ours_ms:.0f} ms, "
                 f"CAREamics' {theirs_ms:.0f} ms, ratio {theirs_ms / ours_ms:.2f}. Runs: `{plain}`")
    write_result("onednn_kernels_smoke.md" if args.smoke else f"{args.name}.md", "oneDNN kernels of a training step", body)


if __name__ == "__main__":
    main()
