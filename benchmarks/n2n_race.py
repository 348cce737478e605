"""Noise2Noise on MRI side by side with CAREamics' N2N at equal wall-clock budgets (issue 13, item 4).

    python benchmarks/n2n_race.py [--budget 300] [--venv PATH] [--variants LABEL ...] [--smoke]

The MRI setting of ``mri_experiment.py``: the MNI152 template's 100 middle planes (zero-padded to
256 x 256) corrupted twice independently by k-space undersampling keeping 10 %; models train on
the corrupted volume itself (copy A -> copy B) and are scored against the clean planes, before and
after the spectral post-processing with both copies' samples. CAREamics 0.3.5 (the venv of
``peers.py --setup``) trains ``create_n2n_config`` with its defaults (64 x 64 patches, batch 16, its
U-Net with batch norm, MAE loss, mean/std normalisation, Adam with ReduceLROnPlateau, flips and
90-degree rotations) and Lightning's ``max_time``; ours each variant of ``VARIANTS`` with
``--max-time``. Every run is a fresh process, one at a time. Writes benchmarks/results/<--name>.md (default n2n_race.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import DEFAULT_VENV, cpu_flags, cpu_model, run  # noqa: E402

THEIRS = r"""
import json, sys
import numpy as np
from careamics import CAREamist
from careamics.config import create_n2n_config
a, b, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
config = create_n2n_config(experiment_name="race", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                           num_epochs=100000)
config.training_config.trainer_params["max_time"] = {"seconds": budget}
careamist = CAREamist(config, work_dir=folder, enable_progress_bar=False)
careamist.train(train_data=a, train_data_target=b)
pred, _ = careamist.predict(a, axes="SYX", batch_size=1)
np.save(folder + "/pred.npy", np.asarray(pred[0] if len(pred) == 1 else np.concatenate(pred)).astype(np.float32).reshape(a.shape))
print(json.dumps({"steps": int(careamist.trainer.global_step)}))
"""

OURS = r"""
import csv, json, sys
import numpy as np
from noise2stack import api
a, b, folder, budget, options = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5])
model = api.train(a, folder + "/model", targets=[b], max_time=budget, seed=0, progress=False, **options)
np.save(folder + "/pred.npy", api.predict(model, a, progress=False))
rows = list(csv.DictReader(open(folder + "/model/training_log.csv")))
print(json.dumps({"steps": int(rows[-1]["step"]) if rows else 0}))
"""

MRI = {
    "net": "n2n-unet",
    "residual": False,
    "normalization": "minmax",
    "augmentation": "translate",
}  # mri_experiment.py
#: our variants: label -> train options
VARIANTS = {
    "ours N2N (MRI recipe)": {"method": "n2n", **MRI},
    "ours N2N (defaults)": {"method": "n2n"},
    "ours copy 1+4 (MRI recipe)": {"method": "n2stack", "mode": "copy", "neighbors": 4, **MRI},
    "ours copy 1+4 (MRI recipe, MAE)": {"method": "n2stack", "mode": "copy", "neighbors": 4, **MRI, "loss": "mae"},
    "ours copy 1+4 (defaults)": {"method": "n2stack", "mode": "copy", "neighbors": 4},
    "ours copy 1+4 (batch norm, MAE, mean/std)": {
        "method": "n2stack",
        "mode": "copy",
        "neighbors": 4,
        "batch_norm": True,
        "loss": "mae",
        "normalization": "meanstd",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--variants", nargs="*", help="labels of VARIANTS to run (default all)")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="n2n_race", help="stem of the result file")
    args = parser.parse_args()
    theirs_python = args.venv / "bin" / "python"
    if not theirs_python.exists():
        raise SystemExit(f"no CAREamics venv at {args.venv}: run `python benchmarks/peers.py --setup` first")
    from common import SHARED, markdown_table, write_result
    from mri_experiment import pad256
    from noise2stack import api
    from noise2stack.io.stacks import read_stack
    from noise2stack.noise.kspace import spectral_consistency, undersample

    volume = read_stack(SHARED / "mri_mni152_template_clean" / "mni152_2009a_t1_zyx.tif").astype(np.float32)
    z0 = volume.shape[0] // 2 - 50
    clean = pad256(volume[z0 : z0 + (8 if args.smoke else 100)])
    if args.smoke:
        args.budget = 10.0
    a, side_a = undersample(clean, 0.1, seed=1)
    b, side_b = undersample(clean, 0.1, seed=2)
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants}
    score = lambda x: api.evaluate(x, clean)["psnr"]  # noqa: E731
    raw: dict = {"Direct inverse FFT": {"before": score(a), "after": score(spectral_consistency(a, [side_a, side_b]))}}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/a.npy", a)
        np.save(f"{tmp}/b.npy", b)
        runs = [("CAREamics N2N", str(theirs_python), THEIRS, None)] + [
            (k, sys.executable, OURS, v) for k, v in variants.items()
        ]
        for label, python, script, options in runs:
            folder = Path(tmp) / label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "").replace(
                "/", ""
            )
            folder.mkdir()
            extra = [] if options is None else [json.dumps(options)]
            out, seconds = run(python, script, f"{tmp}/a.npy", f"{tmp}/b.npy", str(folder), str(args.budget), *extra)
            pred = np.load(folder / "pred.npy")
            raw[label] = {
                "before": score(pred),
                "after": score(spectral_consistency(pred, [side_a, side_b])),
                "steps": out.get("steps"),
                "process_seconds": seconds,
            }
            print(
                f"{label}: {raw[label]['before']:.2f} / {raw[label]['after']:.2f} dB, {out.get('steps')} steps",
                flush=True,
            )
    ref = raw["CAREamics N2N"]
    rows = [
        [
            k,
            f"{v['before']:.2f} ({v['before'] - ref['before']:+.2f})",
            f"{v['after']:.2f} ({v['after'] - ref['after']:+.2f})",
            v.get("steps", "-"),
        ]
        for k, v in raw.items()
    ]
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}. MNI152 2009a, planes {z0}-{z0 + clean.shape[0] - 1}, 256 x 256, two "
        f"corruptions keeping 10 % of k-space; {args.budget:g} s training each. PSNR dB over the stack against the clean "
        "planes (difference to CAREamics), before and after spectral post-processing with both copies' samples.\n\n"
        + markdown_table(["method", "PSNR raw", "PSNR after post-processing", "steps"], rows)
        + f"\n\nOur variants: `{json.dumps(variants)}`.\n\nRaw: `{json.dumps(raw)}`"
    )
    write_result(
        f"{args.name}_smoke.md" if args.smoke else f"{args.name}.md",
        "Noise2Noise on MRI against CAREamics' N2N at equal budgets",
        body,
    )


if __name__ == "__main__":
    main()
