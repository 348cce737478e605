"""Noise2Void side by side with CAREamics' N2V at equal wall-clock budgets (issue 13, item 4).

    python benchmarks/n2v_race.py [--budgets 60 300] [--venv PATH] [--smoke]

Tribolium (Poisson-Gaussian, peak 30, sigma 2 % of the maximum; planes 0-59 train, 60-99 test with
fresh noise, as ``budget.py``). CAREamics 0.3.5 (the venv of ``peers.py --setup``) trains with its
defaults for N2V (``create_n2v_config``: 64 x 64 patches, batch 16, its U-Net with batch norm,
mean/std normalisation, Adam 1e-4 with ReduceLROnPlateau, 11 x 11 replacement, 0.2 % masked) and
Lightning's ``max_time`` set to the budget; it predicts with 256 x 256 tiles (48 px overlap). Ours
trains with ``--max-time`` the budget and each variant listed in ``VARIANTS``. Every run is a fresh
process, one at a time. PSNR (dB) against the clean test planes. Writes benchmarks/results/n2v_race.md.
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
from careamics.config import create_n2v_config
train, test, folder, budget = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4])
config = create_n2v_config(experiment_name="race", data_type="array", axes="SYX", patch_size=[64, 64], batch_size=16,
                           num_epochs=100000)
config.training_config.trainer_params["max_time"] = {"seconds": budget}
careamist = CAREamist(config, work_dir=folder, enable_progress_bar=False)
careamist.train(train_data=train)
pred, _ = careamist.predict(test, axes="SYX", tile_size=(256, 256), tile_overlap=(48, 48), batch_size=1)
pred = np.asarray(pred[0] if len(pred) == 1 else np.concatenate(pred)).astype(np.float32).reshape(test.shape)
np.save(folder + "/pred.npy", pred)
print(json.dumps({"steps": int(careamist.trainer.global_step)}))
"""

OURS = r"""
import csv, json, sys
import numpy as np
from noise2stack import api
train, test, folder, budget, options = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5])
options = {"seed": 0, **options}
model = api.train(train, folder + "/model", method="n2v", max_time=budget, progress=False, **options)
np.save(folder + "/pred.npy", api.predict(model, test, progress=False))
rows = list(csv.DictReader(open(folder + "/model/training_log.csv")))
print(json.dumps({"steps": int(rows[-1]["step"]) if rows else 0}))
"""

#: our variants: label -> train options
VARIANTS = {
    "ours (defaults)": {},  # since 2026-12-02: 5 % masked, 11 x 11 window
    "ours before (0.2 % masked, 5 x 5 window)": {"n2v_fraction": 0.002, "n2v_window": 5},
    "ours, 0.2 % masked, 11 x 11 window": {"n2v_fraction": 0.002, "n2v_window": 11},
    "ours, batch norm": {"batch_norm": True},
    "ours, mean/std": {"normalization": "meanstd"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", type=float, nargs="+", default=[60, 300])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--variants", nargs="*", help="labels of VARIANTS to run (default all)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each cell (ours: seeds 0, 1, ...); the table gives the mean"
    )
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--name", default="n2v_race", help="stem of the result file")
    args = parser.parse_args()
    theirs_python = args.venv / "bin" / "python"
    if not theirs_python.exists():
        raise SystemExit(f"no CAREamics venv at {args.venv}: run `python benchmarks/peers.py --setup` first")
    from common import DATASETS, markdown_table, write_result
    from noise2stack import api
    from noise2stack.noise import add_noise
    from paper_rows import crop

    clean = DATASETS["tribolium"].load()[0].astype(np.float32)
    if args.smoke:
        clean, args.budgets = crop(clean, 16, 128), [10.0]
    noise = {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 0.02 * float(clean.max())}
    split = int(clean.shape[0] * 0.6)
    train, test = add_noise(clean[:split], seed=0, **noise), add_noise(clean[split:], seed=2, **noise)
    test_clean = clean[split:]
    variants = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants}
    raw: dict = {"noisy": api.evaluate(test, test_clean)["psnr"]}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/train.npy", train.astype(np.float32))
        np.save(f"{tmp}/test.npy", test.astype(np.float32))
        for budget in args.budgets:
            runs = [("CAREamics N2V", str(theirs_python), THEIRS, None)] + [
                (k, sys.executable, OURS, v) for k, v in variants.items()
            ]
            for repeat in range(args.repeats):  # alternating: every label once per repeat
                for label, python, script, options in runs:
                    folder = Path(tmp) / f"{label}-{budget:g}-{repeat}".replace(" ", "_").replace(",", "").replace(
                        "/", ""
                    )
                    folder.mkdir()
                    extra = [] if options is None else [json.dumps({**options, "seed": repeat})]
                    out, seconds = run(
                        python, script, f"{tmp}/train.npy", f"{tmp}/test.npy", str(folder), str(budget), *extra
                    )
                    psnr = api.evaluate(np.load(folder / "pred.npy"), test_clean)["psnr"]
                    cell = raw.setdefault(f"{label} {budget:g} s", {"psnr_runs": [], "steps_runs": []})
                    cell["psnr_runs"].append(psnr)
                    cell["steps_runs"].append(out.get("steps"))
                    cell["psnr"], cell["steps"] = float(np.mean(cell["psnr_runs"])), int(np.mean(cell["steps_runs"]))
                    print(
                        f"{label}, {budget:g} s, run {repeat}: {psnr:.2f} dB, {out.get('steps')} steps, {seconds:.0f} s process",
                        flush=True,
                    )
    labels = ["CAREamics N2V", *variants]
    rows = []
    for label in labels:
        row = [label]
        for budget in args.budgets:
            r = raw[f"{label} {budget:g} s"]
            ref = raw[f"CAREamics N2V {budget:g} s"]["psnr"]
            spread = f" [{min(r['psnr_runs']):.2f}-{max(r['psnr_runs']):.2f}]" if len(r["psnr_runs"]) > 1 else ""
            row.append(f"{r['psnr']:.2f}{spread} ({r['psnr'] - ref:+.2f}; {r['steps']} steps)")
        rows.append(row)
    body = (
        f"CPU: {cpu_model()}; flags: {cpu_flags()}. Tribolium{' (smoke crop)' if args.smoke else ''}, Poisson-Gaussian "
        f"peak 30; train planes 0-{split - 1}, test {split}-{clean.shape[0] - 1}; noisy test planes {raw['noisy']:.2f} dB. "
        f"Each cell: PSNR dB against the clean planes, the mean of {args.repeats} run(s) [lowest-highest] (difference to "
        "CAREamics at the same budget; optimisation steps). Ours: seeds 0, 1, ...; CAREamics: unseeded, its default.\n\n"
        + markdown_table(["method", *[f"{b:g} s" for b in args.budgets]], rows)
        + f"\n\nOur variants: `{json.dumps(variants)}`.\n\nRaw: `{json.dumps(raw)}`"
    )
    write_result(
        f"{args.name}_smoke.md" if args.smoke else f"{args.name}.md",
        "Noise2Void against CAREamics' N2V at equal budgets",
        body,
    )


if __name__ == "__main__":
    main()
