"""Noise2Void or Noise2Noise side by side with CAREamics at equal wall-clock budgets (issue 13, item 4).

    python -m benchmarks.races.equal_budget --algorithm n2v [--budgets 60 300] [--repeats 1] [--variants LABEL ...]
    python -m benchmarks.races.equal_budget --algorithm n2n [--budgets 300] [--variants LABEL ...]

CAREamics 0.3.5 (the venv of ``races.peers --setup``) trains with its defaults (64 x 64 patches, batch
16, its U-Net with batch norm, mean/std normalisation, Adam with ReduceLROnPlateau) and Lightning's
``max_time`` set to the budget; ours trains each variant of the algorithm's ``variants`` with
``max_time``. Every run is a fresh process, one at a time; with ``--repeats`` every label runs once
per repeat, alternating (ours: seeds 0, 1, ...; CAREamics: seeds 1, 2, ... through ``seed_everything``
and its configs' seeds, which its factories otherwise draw at random).

* ``--algorithm n2v``: Tribolium (Poisson-Gaussian, peak 30, sigma 2 % of the maximum; planes 0-59
  train, 60-99 test with fresh noise, as quality.budget). CAREamics: ``create_n2v_config`` (11 x 11
  replacement, 0.2 % masked), predicting with 256 x 256 tiles (48 px overlap). PSNR (dB) against the
  clean test planes. Default name ``n2v_race``.
* ``--algorithm n2n``: the MRI setting of papers.mri_experiment: the MNI152 template's 100 middle
  planes (zero-padded to 256 x 256) corrupted twice independently by k-space undersampling keeping
  10 %; models train on the corrupted volume itself (copy A -> copy B) and are scored against the clean
  planes, before and after the spectral post-processing with both copies' samples. CAREamics:
  ``create_n2n_config`` (MAE loss, flips and 90-degree rotations). Default name ``n2n_race``.

Writes ``races/results/<--name>.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.harness import (
    DATASETS,
    MNI152,
    PEERS_VENV,
    careamics_python,
    cpu_model,
    crop,
    flags_text,
    load_stack,
    markdown_table,
    mean_sd,
    middle_planes,
    noisy_split,
    pad256,
    resolve_noise,
    run_python,
    write_result,
)
from noise2stack import api

# argv of every script: input .npy, second .npy (n2v: the test stack; n2n: the target copy), folder, budget
# seconds, and for ours the training options as JSON. Each saves folder/pred.npy and prints its steps.
THEIRS_N2V = r"""
import json, sys
import numpy as np
from careamics import CAREamist
from careamics.config import create_n2v_config
from lightning.pytorch import seed_everything
train, test, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
seed = json.loads(sys.argv[5])["seed"] + 1  # CAREamics wants a seed > 0
seed_everything(seed)  # the network's initial weights
config = create_n2v_config(experiment_name="race", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                           num_epochs=100000)
# 0.3.5's factory takes no seed and draws both at random: the patches' and the masks'
config.data_config.seed = seed
config.algorithm_config.n2v_config.seed = seed
config.training_config.trainer_params["max_time"] = {"seconds": budget}
careamist = CAREamist(config, work_dir=folder, enable_progress_bar=False)
careamist.train(train_data=train)
pred, _ = careamist.predict(test, axes="SYX", tile_size=(256, 256), tile_overlap=(48, 48), batch_size=1)
pred = np.asarray(pred[0] if len(pred) == 1 else np.concatenate(pred)).astype(np.float32).reshape(test.shape)
np.save(folder + "/pred.npy", pred)
print(json.dumps({"steps": int(careamist.trainer.global_step)}))
"""

OURS_N2V = r"""
import csv, json, sys
import numpy as np
from noise2stack import api
train, test, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
model = api.train(train, folder + "/model", method="n2v", max_time=budget, progress=False, **json.loads(sys.argv[5]))
np.save(folder + "/pred.npy", api.predict(model, test, progress=False))
rows = list(csv.DictReader(open(folder + "/model/training_log.csv")))
print(json.dumps({"steps": int(rows[-1]["step"]) if rows else 0}))
"""

THEIRS_N2N = r"""
import json, sys
import numpy as np
from careamics import CAREamist
from careamics.config import create_n2n_config
from lightning.pytorch import seed_everything
a, b, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
seed = json.loads(sys.argv[5])["seed"] + 1  # CAREamics wants a seed > 0
seed_everything(seed)  # the network's initial weights; the data config's seed drives patches and augmentations
config = create_n2n_config(experiment_name="race", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                           num_epochs=100000)
config.data_config.seed = seed  # create_n2n_config takes no seed; the field is the one create_n2v_config sets
config.training_config.trainer_params["max_time"] = {"seconds": budget}
careamist = CAREamist(config, work_dir=folder, enable_progress_bar=False)
careamist.train(train_data=a, train_data_target=b)
pred, _ = careamist.predict(a, axes="SYX", batch_size=1)
np.save(folder + "/pred.npy", np.asarray(pred[0] if len(pred) == 1 else np.concatenate(pred)).astype(np.float32).reshape(a.shape))
print(json.dumps({"steps": int(careamist.trainer.global_step)}))
"""

OURS_N2N = r"""
import csv, json, sys
import numpy as np
from noise2stack import api
a, b, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
model = api.train(a, folder + "/model", targets=[b], max_time=budget, progress=False, **json.loads(sys.argv[5]))
np.save(folder + "/pred.npy", api.predict(model, a, progress=False))
rows = list(csv.DictReader(open(folder + "/model/training_log.csv")))
print(json.dumps({"steps": int(rows[-1]["step"]) if rows else 0}))
"""

MRI = {"net": "n2n-unet", "residual": False, "normalization": "minmax", "augmentation": "translate"}
COPY4 = {"method": "n2stack", "mode": "copy", "neighbors": 4}
VARIANTS = {  # algorithm -> our variants: label -> training options
    "n2v": {
        "ours (defaults)": {},  # since 2026-12-02: 5 % masked, 11 x 11 window; precision auto
        "ours (defaults), float32": {"precision": "32"},  # CAREamics' precision
        "ours before (0.2 % masked, 5 x 5 window)": {"n2v_fraction": 0.002, "n2v_window": 5},
        "ours, 0.2 % masked, 11 x 11 window": {"n2v_fraction": 0.002, "n2v_window": 11},
        "ours, batch norm": {"batch_norm": True},
        "ours, mean/std": {"normalization": "meanstd"},
    },
    "n2n": {
        "ours N2N (MRI recipe)": {"method": "n2n", **MRI},
        "ours N2N (defaults)": {"method": "n2n"},
        "ours copy 1+4 (MRI recipe)": {**COPY4, **MRI},
        "ours copy 1+4 (MRI recipe, MAE)": {**COPY4, **MRI, "loss": "mae"},
        "ours copy 1+4 (defaults)": COPY4,
        "ours copy 1+4 (defaults), float32": {**COPY4, "precision": "32"},
        "ours N2N (defaults), float32": {"method": "n2n", "precision": "32"},
        "ours copy 1+4 (batch norm, MAE, mean/std)": {
            **COPY4,
            "batch_norm": True,
            "loss": "mae",
            "normalization": "meanstd",
        },
    },
}
THEIRS = {"n2v": ("CAREamics N2V", THEIRS_N2V, OURS_N2V), "n2n": ("CAREamics N2N", THEIRS_N2N, OURS_N2N)}


@dataclass
class Setting:
    """The data of one race: the two arrays every script gets, and how a prediction is scored."""

    first: np.ndarray
    second: np.ndarray
    score: Callable[[np.ndarray], dict]
    rows: dict  # rows without training (noisy input, direct reconstruction): label -> figures
    text: str  # the data, for the result


def n2v_setting(smoke: bool) -> Setting:
    """Tribolium planes 0-59 train, 60-99 test (smoke: a 16 x 128 x 128 crop)."""
    ds = DATASETS["tribolium"]
    clean = ds.clean()
    if smoke:
        clean = crop(clean, 16, 128)
    split = noisy_split(clean, resolve_noise(ds.noise, clean))

    def score(pred: np.ndarray) -> dict:
        return {"psnr": api.evaluate(pred, split.test_clean)["psnr"]}

    first = split.first_test_plane
    noisy = score(split.test)["psnr"]
    text = (
        f"Tribolium{' (smoke crop)' if smoke else ''}, Poisson-Gaussian peak 30; train planes 0-{first - 1}, test "
        f"{first}-{clean.shape[0] - 1}; noisy test planes {noisy:.2f} dB."
    )
    return Setting(split.train, split.test, score, {"noisy": noisy}, text)


def n2n_setting(smoke: bool) -> Setting:
    """MNI152 planes 44-143 (smoke: 8 planes), two k-space corruptions keeping 10 %."""
    from noise2stack.noise.kspace import spectral_consistency, undersample  # internal: k-space on any array

    z0, planes = middle_planes(load_stack(MNI152).astype(np.float32), 100)
    clean = pad256(planes[:8] if smoke else planes)
    a, side_a = undersample(clean, 0.1, seed=1)
    b, side_b = undersample(clean, 0.1, seed=2)

    def score(pred: np.ndarray) -> dict:
        after = spectral_consistency(pred, [side_a, side_b])
        return {"before": api.evaluate(pred, clean)["psnr"], "after": api.evaluate(after, clean)["psnr"]}

    text = (
        f"MNI152 2009a, planes {z0}-{z0 + clean.shape[0] - 1}, 256 x 256, two corruptions keeping 10 % of k-space; "
        "PSNR dB over the stack against the clean planes (difference to CAREamics), before and after spectral "
        "post-processing with both copies' samples."
    )
    return Setting(a, b, score, {"Direct inverse FFT": score(a)}, text)


def race(algorithm: str, setting: Setting, variants: dict, budgets: list[float], repeats: int, venv: Path) -> dict:
    """label -> budget -> list of each run's figures (score, steps, process seconds)."""
    reference, theirs_script, ours_script = THEIRS[algorithm]
    runs = [(reference, careamics_python(venv), theirs_script, {})]
    runs += [(label, sys.executable, ours_script, options) for label, options in variants.items()]
    out: dict = {}
    folders = itertools.count()
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/first.npy", setting.first.astype(np.float32))
        np.save(f"{tmp}/second.npy", setting.second.astype(np.float32))
        for budget in budgets:
            for repeat in range(repeats):  # alternating: every label once per repeat
                for label, python, script, options in runs:
                    folder = Path(tmp) / f"run-{next(folders)}"
                    folder.mkdir()
                    seeded = json.dumps({**options, "seed": repeat})  # both tools: seed `repeat`
                    done, seconds = run_python(
                        python, script, f"{tmp}/first.npy", f"{tmp}/second.npy", folder, budget, seeded
                    )
                    figures = {
                        **setting.score(np.load(folder / "pred.npy")),
                        "steps": done.get("steps"),
                        "process_seconds": seconds,
                    }
                    out.setdefault(label, {}).setdefault(budget, []).append(figures)
                    print(f"{label}, {budget:g} s, run {repeat}: {figures}", flush=True)
    return out


def n2v_table(results: dict, reference: str, budgets: list[float]) -> tuple[str, dict]:
    """One column per budget: mean ± sd PSNR (difference of means to CAREamics; mean steps)."""
    raw, rows = {}, []
    for label, per_budget in results.items():
        row = [label]
        for budget in budgets:
            runs = per_budget[budget]
            psnr = [r["psnr"] for r in runs]
            cell = {"psnr_runs": psnr, "steps_runs": [r["steps"] for r in runs], "psnr": float(np.mean(psnr))}
            cell["steps"] = int(np.mean(cell["steps_runs"]))
            raw[f"{label} {budget:g} s"] = cell
            ref = float(np.mean([r["psnr"] for r in results[reference][budget]]))
            row.append(f"{mean_sd(psnr)} ({cell['psnr'] - ref:+.2f}; {cell['steps']} steps)")
        rows.append(row)
    return markdown_table(["method", *[f"{b:g} s" for b in budgets]], rows), raw


def n2n_table(results: dict, reference: str, budgets: list[float], fixed: dict) -> tuple[str, dict]:
    """One row per label and budget: mean ± sd PSNR raw and after post-processing (difference of
    means to CAREamics), mean steps."""
    raw, rows = dict(fixed), []
    for budget in budgets:
        ref = {k: float(np.mean([r[k] for r in results[reference][budget]])) for k in ("before", "after")}
        for label, r in fixed.items():
            rows.append([label, f"{r['before']:.2f}", f"{r['after']:.2f}", "-"])
        for label, per_budget in results.items():
            runs = per_budget[budget]
            name = label if len(budgets) == 1 else f"{label}, {budget:g} s"
            raw[name] = {k: [r[k] for r in runs] for k in ("before", "after", "steps")}
            cells = [f"{mean_sd(raw[name][k])} ({np.mean(raw[name][k]) - ref[k]:+.2f})" for k in ("before", "after")]
            rows.append([name, *cells, int(np.mean(raw[name]["steps"]))])
    return markdown_table(["method", "PSNR raw", "PSNR after post-processing", "steps"], rows), raw


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithm", choices=list(VARIANTS), required=True)
    parser.add_argument("--budgets", type=float, nargs="+", default=None, help="seconds (n2v: 60 300; n2n: 300)")
    parser.add_argument("--venv", type=Path, default=PEERS_VENV, help="the venv that holds CAREamics")
    parser.add_argument("--variants", nargs="*", help="labels of our variants to run (default all)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each cell (ours: seeds 0, 1, ...); mean shown")
    parser.add_argument("--smoke", action="store_true", help="a small crop and 10 s budgets")
    parser.add_argument("--name", default=None, help="stem of the result file (default n2v_race / n2n_race)")
    args = parser.parse_args(argv)
    variants = {k: v for k, v in VARIANTS[args.algorithm].items() if not args.variants or k in args.variants}
    unknown = set(args.variants or ()) - set(VARIANTS[args.algorithm])
    if unknown:
        parser.error(
            f"unknown --variants {sorted(unknown)} for {args.algorithm}; choose from {list(VARIANTS[args.algorithm])}"
        )
    budgets = [10.0] if args.smoke else args.budgets or ([60.0, 300.0] if args.algorithm == "n2v" else [300.0])
    setting = (n2v_setting if args.algorithm == "n2v" else n2n_setting)(args.smoke)
    reference = THEIRS[args.algorithm][0]
    results = race(args.algorithm, setting, variants, budgets, args.repeats, args.venv)
    if args.algorithm == "n2v":
        table, raw = n2v_table(results, reference, budgets)
        raw = {**setting.rows, **raw}
        how = (
            f"Each cell: PSNR dB against the clean planes, mean ± sd of {args.repeats} run(s) (difference of the means "
            "to CAREamics at the same budget; mean optimisation steps, batch 16 for both tools). Seeds 0, 1, ... on both "
            "sides (CAREamics: its config's seed and Lightning's seed_everything, seed + 1)."
        )
    else:
        table, raw = n2n_table(results, reference, budgets, setting.rows)
        how = (
            f"{', '.join(f'{b:g}' for b in budgets)} s training each, mean ± sd of {args.repeats} run(s), seeds 0, 1, ... on "
            "both sides (CAREamics: its data config's seed and Lightning's seed_everything, seed + 1)."
        )
    body = (
        f"CPU: {cpu_model()}; flags: {flags_text()}. {setting.text} {how}\n\n{table}"
        f"\n\nOur variants: `{json.dumps(variants)}`.\n\nRaw: `{json.dumps(raw)}`"
    )
    name = args.name or f"{args.algorithm}_race"
    title = {"n2v": "Noise2Void against CAREamics' N2V", "n2n": "Noise2Noise on MRI against CAREamics' N2N"}
    write_result(
        __package__,
        f"{name}.md",
        f"{title[args.algorithm]} at equal budgets",
        body,
        smoke=args.smoke,
        seeds=f"both tools: training seeds 0-{args.repeats - 1} (CAREamics: seed + 1); "
        + ("noise: train 0, test 2" if args.algorithm == "n2v" else "k-space corruptions 1 (A) and 2 (B)"),
        budget=", ".join(f"{b:g} s" for b in budgets) + " wall clock per model, both tools",
        tuned="Tribolium planes 0-59 with noise"
        if args.algorithm == "n2v"
        else "copy A -> copy B of the MNI152 planes",
        scored="Tribolium planes 60-99, fresh noise, against the clean planes"
        if args.algorithm == "n2v"
        else "the prediction of copy A against the clean MNI152 planes",
    )


if __name__ == "__main__":
    main()
