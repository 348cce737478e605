"""The golden set: one fixed-seed tiny training and prediction per method and prediction path.

``python tests/golden/cases.py record`` (run once, before a redesign) writes each case's
prediction to ``tests/golden/data/<case>.npy`` and the flat ``config.yaml`` the model folder held
then to ``tests/golden/data/<case>.config.yaml``; ``test_golden.py`` reruns every case with today's
code and compares (``python tests/golden/cases.py compare`` prints the largest differences). The data are small synthetic stacks (seeded), so the test needs no files.
A deliberate change of what training computes (the per-epoch cosine, issue 25) re-records the
predictions; the configs and the old model folder with its own prediction are kept as first written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"

TINY = dict(epochs=1, steps_per_epoch=3, patch=16, batch=2, val_patches=2, seed=5, progress=False, precision="32")
PREDICT = dict(tile=16, progress=False)
OLD_FOLDER_CASE = "pn2stack"  # its folder also holds a noise model


def stacks() -> dict[str, np.ndarray]:
    """A clean smooth stack (8 x 40 x 36) and two independent Poisson noisy copies of it."""
    z, y, x = np.meshgrid(np.arange(8), np.arange(40), np.arange(36), indexing="ij")
    rng = np.random.default_rng(0)
    clean = np.zeros((8, 40, 36))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, 40), rng.uniform(0, 36), rng.uniform(3, 8)
        clean += np.exp(-(((y - cy - 0.5 * z) ** 2 + (x - cx) ** 2) / (2 * r**2)))
    clean = (100 * clean + 10).astype(np.float32)
    noisy = np.random.default_rng(1).poisson(clean).astype(np.float32)
    copy = np.random.default_rng(2).poisson(clean).astype(np.float32)
    return {"clean": clean, "noisy": noisy, "copy": copy}


# case name -> (training options, prediction options); "targets" names a stack of stacks()
CASES: dict[str, tuple[dict, dict]] = {
    "n2stack_self": ({"method": "n2stack", "mode": "self", "neighbors": 2}, {}),
    "n2stack_self_cut": (
        {"method": "n2stack", "mode": "self", "neighbors": 2},
        {"stitch": "cut", "tile": 64, "overlap": 16},
    ),
    "n2stack_self_tta": ({"method": "n2stack", "mode": "self", "neighbors": 4}, {"tta": True}),
    "n2stack_copy": ({"method": "n2stack", "mode": "copy", "neighbors": 2, "targets": "copy"}, {}),
    "n2n": ({"method": "n2n", "targets": "copy"}, {}),
    "n2c": ({"method": "n2c", "targets": "clean"}, {}),
    "n2v": ({"method": "n2v"}, {}),
    "n2v2": ({"method": "n2v", "net": "n2v2-unet", "n2v_replacement": "median"}, {}),
    "pn2v": ({"method": "pn2v", "pn2v_samples": 8}, {"uncertainty": True}),
    "pn2stack": ({"method": "pn2stack", "pn2v_samples": 8}, {"uncertainty": True}),
    "n2sr": ({"method": "n2sr"}, {}),
    "n2sr_polyphase": ({"method": "n2sr"}, {"sr_inference": "polyphase"}),
    "n2sr_mean": ({"method": "n2sr"}, {"sr_inference": "mean"}),
    "n2sr_scale2": ({"method": "n2sr"}, {"output_scale": 2}),
    "n2sr_scale2_cut": ({"method": "n2sr"}, {"output_scale": 2, "stitch": "cut", "tile": 64, "overlap": 16}),
    "nrrn": ({"method": "nrrn", "units": 2}, {}),
    "nrrn_cut": ({"method": "nrrn", "units": 2}, {"stitch": "cut", "tile": 64, "overlap": 16}),
    "nrrn_images1": ({"method": "nrrn", "units": 2}, {"images": 1}),
    "n2stack_zarr": ({"method": "n2stack", "mode": "self", "neighbors": 2}, {"zarr": True}),
}


def run_case(name: str, work: Path) -> tuple[dict[str, np.ndarray], Path]:
    """Train and predict one case in ``work``; returns its outputs and the model folder."""
    from noise2stack import api

    data = stacks()
    options, predict_options = CASES[name]
    options, predict_options = dict(options), dict(predict_options)
    targets = [data[options.pop("targets")]] if "targets" in options else None
    if options["method"] in ("pn2v", "pn2stack"):
        noise_file = work / "noise.npz"
        if not noise_file.exists():
            api.noise_model(noise_file, estimate_from=data["noisy"])
        options["noise_model"] = str(noise_file)
    model_dir = work / name
    api.train(data["noisy"], model_dir, targets=targets, **options, **TINY)
    outputs: dict[str, np.ndarray] = {}
    if predict_options.pop("zarr", False):
        np.save(work / "noisy.npy", data["noisy"])
        result = api.predict(model_dir, work / "noisy.npy", work / f"{name}.zarr", chunk_planes=3, **PREDICT)
        outputs["prediction"] = np.asarray(result)
        return outputs, model_dir
    if predict_options.pop("uncertainty", False):
        predict_options["uncertainty"] = work / f"{name}_std.npy"
    outputs["prediction"] = api.predict(model_dir, data["noisy"], **{**PREDICT, **predict_options})
    if "uncertainty" in predict_options:
        outputs["uncertainty"] = np.load(predict_options["uncertainty"])
    return outputs, model_dir


def record() -> None:
    import shutil
    import tempfile

    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            outputs, model_dir = run_case(name, Path(tmp))
            np.savez(DATA / f"{name}.npz", **outputs)
            if name == OLD_FOLDER_CASE and not (DATA / "model_folder").exists():
                # one whole model folder as the version before the redesign wrote it, kept with its
                # prediction (a later record keeps both: they prove old folders still load)
                np.savez(DATA / "model_folder.prediction.npz", **outputs)
                shutil.copytree(
                    model_dir,
                    DATA / "model_folder",
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("last.*", "checkpoint.*", "*.csv"),
                )
            if not (DATA / f"{name}.config.yaml").exists():  # the flat config of before the redesign stays
                shutil.copy(model_dir / "config.yaml", DATA / f"{name}.config.yaml")
            print(name, {k: (v.shape, float(np.abs(v).mean())) for k, v in outputs.items()})


def compare() -> None:
    """Print each case's largest absolute difference from its recorded output (0.0: bitwise equal)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            outputs, _ = run_case(name, Path(tmp))
            expected = np.load(DATA / f"{name}.npz")
            diffs = {key: float(np.max(np.abs(outputs[key] - expected[key]))) for key in expected.files}
            print(name, diffs)


if __name__ == "__main__":
    commands = {"record": record, "compare": compare}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit("usage: python tests/golden/cases.py record|compare")
    commands[sys.argv[1]]()
