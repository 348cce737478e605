"""Race CAREamics side by side on one machine (issue 13, item 3): training patches/s and prediction MVox/s.

    python -m benchmarks.races.peers --setup      # once, by hand: CAREamics 0.3.5 into its own venv
    python -m benchmarks.races.peers [--planes 64] [--steps 60] [--repeats 3] [--venv PATH] [--name peers] [--smoke]

``--setup`` creates ``benchmarks/.peers-venv`` (git-ignored) with ``careamics==0.3.5``. CAREamics needs
torchvision, whose wheels pull a CUDA build of torch: several GB, so never in CI. It runs on the
CPU all the same.

Every measurement runs in a fresh subprocess, ours and CAREamics' alternating, ``--repeats`` times;
the table gives the median and the ratio ours / theirs of the same repeat's medians.

* Training: Noise2Void, 64 x 64 patches, batch 16, on the ISBI EM train volume (30 x 512 x 512,
  float32). Ours: ``method="n2v"`` with the Table S1 U-Net (32/64/128 filters, depth 2); CAREamics:
  ``create_n2v_config`` with its default U-Net (depth 2, 32 initial filters). The time of each step is
  taken between consecutive ``training_step`` calls (data, masking, forward, backward, optimiser,
  hooks: everything the loop does), after ``WARMUP`` steps, so set-up and the first slow steps do not
  count. Without native bf16 only the float32 pair runs (bf16 would time an emulation).
* Prediction: the EM train and test volumes stacked (``--planes`` planes of 512 x 512), whole process
  from start to written TIFF. Ours: ``noise2stack predict`` (default ``--tile 512``); CAREamics:
  ``CAREamist.predict`` with 256 x 256 tiles and its default 48 px overlap, written with tifffile.
  Beside it, a bare forward pass of our net over the same planes (batch 1, channels_last,
  ``inference_mode``, so the same fused convolutions; without the tiler's heap reuse): what the
  tiler and the process add on top, or save.

Writes ``races/results/<--name>.md`` (one per CPU kind). ``--smoke``: 4 planes, 12 steps, 1 repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    EM_TRAIN,
    PEERS_VENV,
    careamics_python,
    cpu_model,
    em_volume,
    flags_text,
    has_bf16,
    load_stack,
    markdown_table,
    run_python,
    write_result,
    write_tiff,
)

WARMUP = 5
CAREAMICS = "careamics==0.3.5"

# argv: data .npy, model folder, steps, precision. Internal: DenoiseModule's training_step, stamped.
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
api.train(data, folder, method="n2v", net="csbdeep-unet", patch=64, batch=16, epochs=1, steps_per_epoch=steps,
          progress=False, precision=precision)
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

OURS_PREDICT = "import sys; from noise2stack.cli import main; main(sys.argv[1:])"

THEIRS_PREDICT = r"""
import sys
import numpy as np, tifffile
from careamics import CAREamist
careamist = CAREamist(checkpoint_path=sys.argv[2], work_dir=sys.argv[3], enable_progress_bar=False)
predictions, _ = careamist.predict(np.load(sys.argv[1]), axes="SYX", tile_size=(256, 256), tile_overlap=(48, 48), batch_size=1)
tifffile.imwrite(sys.argv[4], np.asarray(predictions[0] if len(predictions) == 1 else np.concatenate(predictions)).astype(np.float32))
"""


def train_variants(ours: str, theirs: str, bf16: bool) -> list[tuple[str, str, str, str]]:
    """(label, interpreter, script, precision) of every training run of one repeat, alternating.

    Without native bf16, ``precision="auto"`` is float32 and bf16 runs would only time an emulation,
    so only the float32 pair runs."""
    pair = [("ours", ours, OURS_TRAIN, "32"), ("theirs", theirs, THEIRS_TRAIN, "32")]
    if not bf16:
        return pair
    return pair + [("ours auto", ours, OURS_TRAIN, "auto"), ("theirs bf16", theirs, THEIRS_TRAIN, "bf16")]


def setup(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", CAREAMICS], check=True)
    print(f"CAREamics installed in {venv}")


def patches_per_second(stamps: list[float], batch: int = 16) -> float:
    steady = stamps[WARMUP:]
    return batch * (len(steady) - 1) / (steady[-1] - steady[0])


def race_training(theirs: str, steps: int, repeats: int, tmp: Path, results: dict) -> None:
    """Every training variant ``repeats`` times, alternating; patches/s into ``results["train"]``."""
    for r in range(repeats):
        for who, python, script, precision in train_variants(sys.executable, theirs, has_bf16()):
            folder = tmp / f"{who}_model_{r}"
            folder.mkdir()
            out, _ = run_python(python, script, tmp / "train.npy", folder, steps, precision)
            results["train"].setdefault(who, []).append(patches_per_second(out["stamps"]))
            print(f"train {who} #{r}: {results['train'][who][-1]:.1f} patches/s", flush=True)


def race_prediction(theirs: str, voxels: int, repeats: int, tmp: Path, results: dict) -> None:
    """Whole-process predictions of ours (float32, and bf16 where native), theirs, and our bare pass."""
    variants = [("ours", "32"), ("ours bf16", "bf16")] if has_bf16() else [("ours", "32")]
    for r in range(repeats):
        for who, precision in variants:
            args = [
                "predict",
                tmp / "ours_model_0",
                tmp / "volume.tif",
                tmp / f"ours_{r}.tif",
                "--quiet",
                "--overwrite",
            ]
            _, seconds = run_python(sys.executable, OURS_PREDICT, *args, "--precision", precision)
            results["predict"].setdefault(who, []).append(voxels / seconds / 1e6)
        checkpoint = tmp / "theirs_model_0" / "race.ckpt"
        _, seconds = run_python(theirs, THEIRS_PREDICT, tmp / "volume.npy", checkpoint, tmp, tmp / f"theirs_{r}.tif")
        results["predict"]["theirs"].append(voxels / seconds / 1e6)
        out, _ = run_python(sys.executable, OURS_BARE, tmp / "volume.npy", tmp / "ours_model_0")
        results["bare"].append(voxels / out["seconds"] / 1e6)
        ours_line = ", ".join(f"{who} {results['predict'][who][-1]:.3f}" for who, _ in variants)
        theirs_line = f"theirs {results['predict']['theirs'][-1]:.3f}, bare forward {results['bare'][-1]:.3f} MVox/s"
        print(f"predict #{r}: {ours_line}, {theirs_line}", flush=True)


def report(results: dict, args) -> str:
    """The result body: the table of medians and ratios, the bare pass, all runs."""
    med = {k: {w: statistics.median(v) for w, v in d.items()} for k, d in results.items() if isinstance(d, dict)}
    bare = statistics.median(results["bare"])
    base_train, base_predict = med["train"]["theirs"], med["predict"]["theirs"]
    rows = [[f"training, patches/s: {who}", f"{v:.1f}", f"{v / base_train:.2f}x"] for who, v in med["train"].items()]
    process = f"prediction, MVox/s ({args.planes} x 512 x 512, whole process)"
    rows += [[f"{process}: {who}", f"{v:.3f}", f"{v / base_predict:.2f}x"] for who, v in med["predict"].items()]
    return (
        f"CPU: {cpu_model()}; flags: {flags_text()}; {os.cpu_count()} cores; median of {args.repeats} alternating "
        f"runs, {args.steps} training steps each ({WARMUP} warm-up steps not counted); CAREamics from {CAREAMICS}.\n\n"
        "Training: N2V, 64 x 64 patches, batch 16; ours = the Table S1 U-Net, theirs = CAREamics' default N2V U-Net. "
        "`ours` trains in float32 (`--precision 32`), `ours auto` with the default `--precision auto` (bf16 autocast "
        "on this CPU when it has AVX512-BF16), `theirs bf16` = CAREamics with Lightning's `bf16-mixed`; without native "
        "bf16 only the float32 runs are made. Ratios are to CAREamics' default (float32) of the same run.\n\n"
        + markdown_table(["measure", "value", "ratio to CAREamics default"], rows)
        + f"\n\nBare forward pass of our net over the same planes: {bare:.3f} MVox/s; our whole-process prediction is "
        f"{100 * med['predict']['ours'] / bare:.0f} % of it.\n\nAll runs: `{json.dumps(results)}`"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true", help=f"create the venv with {CAREAMICS} and stop")
    parser.add_argument("--venv", type=Path, default=PEERS_VENV, help="the venv that holds CAREamics")
    parser.add_argument("--planes", type=int, default=64, help="planes of 512 x 512 to predict")
    parser.add_argument("--steps", type=int, default=60, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="4 planes, 12 steps, 1 repeat: checks the script")
    parser.add_argument("--name", default="peers", help="result file name, without .md (one per CPU kind, say)")
    args = parser.parse_args(argv)
    if args.setup:
        return setup(args.venv)
    theirs = careamics_python(args.venv)
    if args.smoke:
        args.planes, args.steps, args.repeats = 4, 12, 1
    volume = em_volume(args.planes)
    results: dict = {"train": {}, "predict": {"theirs": []}, "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "train.npy", load_stack(EM_TRAIN).astype(np.float32))
        np.save(tmp / "volume.npy", volume)
        write_tiff(tmp / "volume.tif", volume)
        race_training(theirs, args.steps, args.repeats, tmp, results)
        race_prediction(theirs, volume.size, args.repeats, tmp, results)
    write_result(
        __package__,
        f"{args.name}.md",
        "noise2stack against CAREamics, side by side",
        report(results, args),
        smoke=args.smoke,
        seeds="ours: the package's default training seed; CAREamics: unseeded (its default)",
        budget=f"{args.steps} training steps per run ({WARMUP} not timed), {args.repeats} alternating repeats",
        tuned=f"ISBI EM train volume (N2V, {args.steps} steps per run: speed only)",
        scored=f"training patches/s; prediction MVox/s on {args.planes} planes of 512 x 512 (ISBI EM stacked)",
    )


if __name__ == "__main__":
    main()
