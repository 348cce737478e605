"""Race CAREamics side by side on one machine (issue 13, item 3): training patches/s and prediction MVox/s.

    python benchmarks/peers.py --setup                 # once, by hand: CAREamics 0.3.5 into its own venv
    python benchmarks/peers.py [--planes 64] [--steps 60] [--repeats 3] [--venv PATH] [--name peers] [--smoke]

``--setup`` creates ``benchmarks/.peers-venv`` (git-ignored) with ``careamics==0.3.5``. CAREamics needs
torchvision, whose wheels pull a CUDA build of torch 2.11: several GB, so never in CI. It runs on the
CPU all the same.

Every measurement runs in a fresh subprocess, ours and CAREamics' alternating, ``--repeats`` times;
the table gives the median and the ratio ours / theirs of the same repeat's medians.

* Training: Noise2Void, 64 x 64 patches, batch 16, on the ISBI EM train volume (30 x 512 x 512,
  float32). Ours: ``--method n2v`` with the Table S1 U-Net (32/64/128 filters, depth 2); CAREamics:
  ``create_n2v_config`` with its default U-Net (depth 2, 32 initial filters). The time of each step is
  taken between consecutive ``training_step`` calls (data, masking, forward, backward, optimiser,
  hooks: everything the loop does), after ``WARMUP`` steps, so set-up and the first slow steps do not
  count.
* Prediction: the EM train and test volumes stacked (``--planes`` planes of 512 x 512), whole process
  from start to written TIFF. Ours: ``noise2stack predict`` (default ``--tile 512``); CAREamics:
  ``CAREamist.predict`` with 256 x 256 tiles and its default 48 px overlap, written with tifffile.
  Beside it, a bare forward pass of our net over the same planes (batch 1, channels_last,
  ``inference_mode``, so the same fused convolutions; without the tiler's heap reuse): what the
  tiler and the process add on top, or save.

Writes benchmarks/results/peers.md (CPU flags included). ``--smoke``: 4 planes, 12 steps, 1 repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE / ".peers-venv"
WARMUP = 5
CAREAMICS = "careamics==0.3.5"

OURS_TRAIN = r"""
import json, sys, time
import numpy as np
from noise2stack import api
from noise2stack.train.module import DenoiseModule
stamps = []
original = DenoiseModule.training_step
def timed(self, batch, batch_idx):
    stamps.append(time.perf_counter())
    return original(self, batch, batch_idx)
DenoiseModule.training_step = timed
data, folder, steps, precision = np.load(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
api.train(data, folder, method="n2v", net="csbdeep-unet", patch=64, batch=16, epochs=1, steps_per_epoch=steps, progress=False,
          precision=precision)
print(json.dumps({"stamps": stamps}))
"""

THEIRS_TRAIN = r"""
import json, sys, time
import numpy as np
from careamics import CAREamist
from careamics.config import create_n2v_config
from careamics.lightning.modules.n2v_module import N2VModule
stamps = []
original = N2VModule.training_step
def timed(self, *args, **kwargs):
    stamps.append(time.perf_counter())
    return original(self, *args, **kwargs)
N2VModule.training_step = timed
data, folder, steps, precision = np.load(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = create_n2v_config(experiment_name="race", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                           num_epochs=1, num_steps=steps)
if precision == "bf16":
    config.training_config.trainer_params["precision"] = "bf16-mixed"
careamist = CAREamist(config, work_dir=folder, enable_progress_bar=False)
careamist.train(train_data=data)
careamist.trainer.save_checkpoint(folder + "/race.ckpt")
print(json.dumps({"stamps": stamps}))
"""

OURS_BARE = r"""
import json, sys, time
import numpy as np, torch
from noise2stack import api
model = api.load_model(sys.argv[2])  # n2v: one input channel, the plane itself
x = torch.from_numpy(model.normalizer.normalize(np.load(sys.argv[1])))
net = model.net.eval().to(memory_format=torch.channels_last)
with torch.inference_mode():
    net(x[:1][None].contiguous(memory_format=torch.channels_last))  # warm-up
    t0 = time.perf_counter()
    for i in range(len(x)):
        net(x[i : i + 1][None].contiguous(memory_format=torch.channels_last))
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds}))
"""

THEIRS_PREDICT = r"""
import sys
import numpy as np, tifffile
from careamics import CAREamist
careamist = CAREamist(checkpoint_path=sys.argv[2], work_dir=sys.argv[3], enable_progress_bar=False)
predictions, _ = careamist.predict(np.load(sys.argv[1]), axes="SYX", tile_size=(256, 256), tile_overlap=(48, 48), batch_size=1)
tifffile.imwrite(sys.argv[4], np.asarray(predictions[0] if len(predictions) == 1 else np.concatenate(predictions)).astype(np.float32))
"""


def has_bf16() -> bool:
    """Whether this CPU computes bf16 natively; elsewhere bf16 is emulated (10-20x slower than float32)."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags().split()))


def TRAIN_VARIANTS(ours: str, theirs: str, bf16: bool) -> list[tuple[str, str, str, str]]:
    """(label, interpreter, script, precision) of every training run of one repeat, alternating.

    Without native bf16 (``bf16`` false), ``--precision auto`` is float32 and bf16 runs would only
    time an emulation, so only the float32 pair runs."""
    pair = [("ours", ours, OURS_TRAIN, "32"), ("theirs", theirs, THEIRS_TRAIN, "32")]
    if not bf16:
        return pair
    return pair + [("ours auto", ours, OURS_TRAIN, "auto"), ("theirs bf16", theirs, THEIRS_TRAIN, "bf16")]


def cpu_flags() -> str:
    try:
        line = next(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma")
    return " ".join(f for f in line.split(":", 1)[1].split() if f in wanted)


def cpu_model() -> str:
    try:
        return next(
            l.split(":", 1)[1].strip()
            for l in Path("/proc/cpuinfo").read_text().splitlines()
            if l.startswith("model name")
        )
    except (OSError, StopIteration):
        return "unknown"


def setup(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", CAREAMICS], check=True)
    print(f"CAREamics installed in {venv}")


def run(python: str, script: str, *args: str) -> tuple[dict, float]:
    """Run ``script`` in a fresh interpreter; its last stdout line as JSON (or {}) and its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", script, *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed:\n{proc.stderr[-3000:]}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), seconds


def patches_per_second(stamps: list[float], batch: int = 16) -> float:
    steady = stamps[WARMUP:]
    return batch * (len(steady) - 1) / (steady[-1] - steady[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", action="store_true", help=f"create the venv with {CAREAMICS} and stop")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the venv that holds CAREamics")
    parser.add_argument("--planes", type=int, default=64, help="planes of 512 x 512 to predict")
    parser.add_argument("--steps", type=int, default=60, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="4 planes, 12 steps, 1 repeat: checks the script")
    parser.add_argument("--name", default="peers", help="result file name, without .md (one per CPU kind, say)")
    args = parser.parse_args()
    if args.setup:
        return setup(args.venv)
    theirs = args.venv / "bin" / "python"
    if not theirs.exists():
        raise SystemExit(
            f"no CAREamics venv at {args.venv}: run `python benchmarks/peers.py --setup` first (several GB)"
        )
    if args.smoke:
        args.planes, args.steps, args.repeats = 4, 12, 1
    ours = sys.executable
    bf16 = has_bf16()
    predict_variants = [("ours", "32"), ("ours bf16", "bf16")] if bf16 else [("ours", "32")]
    sys.path.insert(0, str(HERE))
    from common import SHARED, markdown_table, write_result
    from noise2stack.io.stacks import read_stack

    train = read_stack(SHARED / "em_isbi2012_sstem/train_volume_zyx.tif").astype(np.float32)
    test = read_stack(SHARED / "em_isbi2012_sstem/test_volume_zyx.tif").astype(np.float32)
    volume = np.concatenate([train, test, train, test])[: args.planes]
    results: dict = {"train": {}, "predict": {"theirs": []}, "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "train.npy", train)
        np.save(tmp / "volume.npy", volume)
        from noise2stack.io.stacks import write_stack

        write_stack(tmp / "volume.tif", volume, "ZYX")
        for r in range(args.repeats):
            for who, python, script, precision in TRAIN_VARIANTS(ours, str(theirs), bf16):
                folder = tmp / f"{who}_model_{r}"
                folder.mkdir()
                out, _ = run(python, script, tmp / "train.npy", folder, args.steps, precision)
                results["train"].setdefault(who, []).append(patches_per_second(out["stamps"]))
                print(f"train {who} #{r}: {results['train'][who][-1]:.1f} patches/s", flush=True)
        cli = "import sys; from noise2stack.cli import app; sys.argv = ['noise2stack'] + sys.argv[1:]; app()"
        for r in range(args.repeats):
            for who, precision in predict_variants:
                _, seconds = run(
                    ours,
                    cli,
                    "predict",
                    tmp / "ours_model_0",
                    tmp / "volume.tif",
                    tmp / f"ours_{r}.tif",
                    "--quiet",
                    "--overwrite",
                    "--precision",
                    precision,
                )
                results["predict"].setdefault(who, []).append(volume.size / seconds / 1e6)
            _, seconds = run(
                str(theirs),
                THEIRS_PREDICT,
                tmp / "volume.npy",
                tmp / "theirs_model_0" / "race.ckpt",
                tmp,
                tmp / f"theirs_{r}.tif",
            )
            results["predict"]["theirs"].append(volume.size / seconds / 1e6)
            out, _ = run(ours, OURS_BARE, tmp / "volume.npy", tmp / "ours_model_0")
            results["bare"].append(volume.size / out["seconds"] / 1e6)
            ours_line = ", ".join(f"{who} {results['predict'][who][-1]:.3f}" for who, _ in predict_variants)
            print(
                f"predict #{r}: {ours_line}, "
                f"theirs {results['predict']['theirs'][-1]:.3f}, bare forward {results['bare'][-1]:.3f} MVox/s",
                flush=True,
            )
    med = {k: {w: statistics.median(v) for w, v in d.items()} for k, d in results.items() if isinstance(d, dict)}
    bare = statistics.median(results["bare"])
    base_train, base_predict = med["train"]["theirs"], med["predict"]["theirs"]
    rows = [[f"training, patches/s: {who}", f"{v:.1f}", f"{v / base_train:.2f}x"] for who, v in med["train"].items()]
    rows += [
        [
            f"prediction, MVox/s ({args.planes} x 512 x 512, whole process): {who}",
            f"{v:.3f}",
            f"{v / base_predict:.2f}x",
        ]
        for who, v in med["predict"].items()
    ]
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}; {os.cpu_count()} cores; median of {args.repeats} alternating "
        f"runs, {args.steps} training steps each ({WARMUP} warm-up steps not counted); CAREamics from {CAREAMICS}.\n\n"
        + "Training: N2V, 64 x 64 patches, batch 16; ours = the Table S1 U-Net, theirs = CAREamics' default N2V U-Net. "
        "`ours` trains in float32 (`--precision 32`), `ours auto` with the default `--precision auto` (bf16 autocast "
        "on this CPU when it has AVX512-BF16), `theirs bf16` = CAREamics with Lightning's `bf16-mixed`; without native bf16 "
        "only the float32 runs are made. "
        "Ratios are to CAREamics' default (float32) of the same run.\n\n"
        + markdown_table(["measure", "value", "ratio to CAREamics default"], rows)
        + f"\n\nBare forward pass of our net over the same planes: {bare:.3f} MVox/s; our whole-process prediction is "
        f"{100 * med['predict']['ours'] / bare:.0f} % of it.\n\nAll runs: `{json.dumps(results)}`"
    )
    write_result(
        "peers_smoke.md" if args.smoke else f"{args.name}.md", "noise2stack against CAREamics, side by side", body
    )


if __name__ == "__main__":
    main()
