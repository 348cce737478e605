"""Every example of README.md and docs/ runs: each ``noise2stack ...`` command of a shell block and each
Python block, on tiny synthetic stand-ins of the files the examples name.

A code block runs in a folder of its own, its commands in order, through ``typer.testing.CliRunner``
on ``noise2stack.cli.app``. The folder holds the stand-in inputs (``noisy.tif``, ``t1.nii.gz``,
``in.ome.zarr``, ...), one shared tiny model (``model``), its prediction and a noise model, except
what the block writes itself. Trainings are made tiny by appending ``--epochs 1 --steps-per-epoch 2
--batch 2 --patch 16`` (32 for the five-level ``n2n-unet``); a ``--max-time`` becomes 5 s, the
demo's 1 s, and a comparison gets a 1 s ``--budget`` on one of its rows. Each command must exit 0
and leave what it promises (the model folder, the output, the JSON it prints).

Stand-ins, never skips: the optional ``bm3d`` package, when missing, is replaced by a Gaussian filter
with its call; ``dask_jobqueue.SLURMCluster`` and the scheduler address ``tcp://10.1.2.3:8786`` by a
local ``dask.distributed`` cluster; ``/shared/`` paths by the block's folder. ``--devices`` (GPUs,
DDP processes) is shown in prose only. Every command of the CLI, and every command line and flag the
README showed before its depth moved into docs/, must appear in an example.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import tifffile

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
TINY_TRAINING = ["--epochs", "1", "--steps-per-epoch", "2", "--batch", "2"]
TINY_PY = "max_time=5, epochs=1, steps_per_epoch=2, patch=16, batch=2"
EXAMPLE_ADDRESS = "tcp://10.1.2.3:8786"
MRI_YAML = "src/noise2stack/examples/mri.yaml"
SHAPE = (10, 32, 32)


# --- the examples -------------------------------------------------------------------------------


def code_blocks(path: Path) -> list[tuple[str, str, int]]:
    """(language, text, line) of every fenced code block of a Markdown page."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        body = "\n".join(line[len(match["indent"]) :] for line in match["body"].splitlines())
        blocks.append((match["lang"].lower(), body, text.count("\n", 0, match.start()) + 1))
    return blocks


def shell_commands(text: str) -> list[list[str]]:
    """The ``noise2stack`` command lines of a shell block, each split into its arguments."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip().removeprefix("$ ")
        if line == "noise2stack" or line.startswith("noise2stack "):
            commands.append(shlex.split(line, comments=True)[1:])
    return commands


def _examples():
    shell, python, yaml_files = [], [], {}
    for page in PAGES:
        for lang, text, line in code_blocks(page):
            where = f"{page.relative_to(ROOT)}:{line}"
            if lang in SHELL:
                commands = shell_commands(text)
                if commands:
                    shell.append(pytest.param(commands, id=where))
            elif lang == "python":
                python.append(pytest.param(text, id=where))
            elif lang == "yaml" and re.match(r"# ([\w.-]+\.ya?ml)\n", text):
                yaml_files[text.split("\n", 1)[0][2:].strip()] = text
    return shell, python, yaml_files


SHELL_BLOCKS, PYTHON_BLOCKS, YAML_FILES = _examples()


# --- stand-in data --------------------------------------------------------------------------------


def _blobs(shape, seed: int, drift: float = 0.5) -> np.ndarray:
    """Positive float32 ZYX stack of Gaussian blobs drifting along Z (``drift=None``: new blobs per plane)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    out = np.zeros(shape)
    for _ in range(8):
        cy, cx, r = rng.uniform(0, shape[1]), rng.uniform(0, shape[2]), rng.uniform(4, 10)
        out += np.exp(-(((y - cy - drift * z) ** 2 + (x - cx) ** 2) / (2 * r**2)))
    return (100 * out + 10).astype(np.float32)


def _noisy(clean: np.ndarray, seed: int) -> np.ndarray:
    from noise2stack.noise import add_noise

    return add_noise(clean, "poisson-gaussian", peak=30, sigma=8, seed=seed).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Every file the examples read, tiny, and one trained model ``model``."""
    import ngff_zarr
    import nibabel

    from noise2stack import api

    d = tmp_path_factory.mktemp("inputs")
    clean = _blobs(SHAPE, 0)
    stacks = {
        "clean.tif": clean,
        "noisy.tif": _noisy(clean, 1),
        "copyA.tif": _noisy(clean, 2),
        "copyB.tif": _noisy(clean, 3),
        "copy.tif": _noisy(clean, 3),
        "other.tif": _noisy(_blobs(SHAPE, 4), 4),
        "val.tif": _noisy(_blobs(SHAPE, 5), 5),
        "timelapse.tif": _noisy(_blobs(SHAPE, 6), 6),
        "em.tif": _noisy(np.stack([_blobs((1, *SHAPE[1:]), 10 + i)[0] for i in range(SHAPE[0])]), 7),
        "repeats.tif": _noisy(np.repeat(clean[:1], 16, axis=0), 8),
        "cells.tif": np.stack([_noisy(clean, 9), _noisy(_blobs(SHAPE, 11), 10)]),  # CZYX
        "labels.tif": (clean[0] > np.median(clean[0])).astype(np.uint16),  # a (Y, X) label image
        "big.tif": np.stack([np.stack([_noisy(clean, 12 + 2 * t + c) for c in range(2)]) for t in range(2)]),  # TCZYX
    }
    for name, array in stacks.items():
        tifffile.imwrite(d / name, array)
    image = ngff_zarr.to_ngff_image(stacks["noisy.tif"], dims=list("zyx"), scale={"z": 2.0, "y": 0.5, "x": 0.5})
    ngff_zarr.to_ngff_zarr(str(d / "in.ome.zarr"), ngff_zarr.to_multiscales(image, scale_factors=[]), version="0.5")
    nibabel.save(nibabel.Nifti1Image(np.moveaxis(clean, 0, -1), np.eye(4)), d / "t1.nii.gz")  # planes: 3rd axis
    for name, seed in (("a.nii.gz", 1), ("b.nii.gz", 2)):  # and a.kspace.npz, b.kspace.npz
        api.simulate(d / "t1.nii.gz", d / name, "kspace", keep=0.1, seed=seed)
    for name, text in YAML_FILES.items():
        (d / name).write_text(text)
    model = api.train(
        [d / "noisy.tif"], d / "model", progress=False, neighbors=2, epochs=1, steps_per_epoch=2, patch=16, batch=2
    )
    api.predict(model, d / "noisy.tif", d / "denoised.tif", progress=False)
    api.noise_model(d / "nm.npz", estimate_from=d / "noisy.tif")
    return d


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The stacks are tiny: one thread is as fast as two, and does not spin against other work."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    """A folder with ``bm3d.py`` standing in for the optional BM3D package (only used where it is missing)."""
    d = tmp_path_factory.mktemp("stand_ins")
    (d / "bm3d.py").write_text(
        '"""Test stand-in for the optional bm3d package: a Gaussian filter with its call."""\n'
        "import numpy as np\nfrom scipy import ndimage\n\n\n"
        "def bm3d(z, sigma_psd, **options):\n"
        "    return ndimage.gaussian_filter(np.asarray(z, dtype=np.float32), 1.0)\n"
    )
    return d


@pytest.fixture
def run_in(tmp_path, monkeypatch, inputs, stand_ins):
    """A fresh folder with the stand-in inputs, except ``written`` (what the block makes itself)."""
    import importlib.util

    if importlib.util.find_spec("bm3d") is None:
        monkeypatch.syspath_prepend(str(stand_ins))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(stand_ins), os.environ.get("PYTHONPATH")])))
    # dask's LocalCluster sets thread variables for its workers in this process; keep ours
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.setenv(name, os.environ[name]) if name in os.environ else monkeypatch.delenv(name, raising=False)

    def prepare(written: set[str]) -> Path:
        for item in inputs.iterdir():
            if item.name in written:
                continue
            if item.is_dir():
                shutil.copytree(item, tmp_path / item.name)
            else:
                shutil.copy2(item, tmp_path / item.name)
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return prepare


# --- running a command ----------------------------------------------------------------------------


def _set_option(argv: list[str], flag: str, value: str) -> list[str]:
    if flag in argv:
        argv[argv.index(flag) + 1] = value
        return argv
    return [*argv, flag, value]


def tiny(argv: list[str], address: str | None) -> list[str]:
    """The command made tiny and pointed at the stand-ins."""
    from importlib import resources

    mri_yaml = str(resources.files("noise2stack.examples") / "mri.yaml")
    argv = [a.replace("/shared/", "").replace(MRI_YAML, mri_yaml) for a in argv]
    if address is not None:
        argv = [a.replace(EXAMPLE_ADDRESS, address) for a in argv]
    command = argv[0] if argv else ""
    if command == "train" and "--resume" not in argv:
        if "--max-time" in argv:
            argv = _set_option(argv, "--max-time", "5")
        five_levels = "n2n-unet" in argv or any(a.endswith("mri.yaml") for a in argv)  # pools 32x
        argv += [*TINY_TRAINING, "--patch", "32" if five_levels else "16"]
    elif command == "demo":
        argv = _set_option(argv, "--max-time", "1")
    elif command == "compare":
        argv = _set_option(argv, "--budget", "1")
        if "--methods" not in argv:
            argv += ["--methods", "Noise2Stack self 2"]
    return argv


def parse(argv: list[str]) -> tuple[str, dict]:
    """The command's name and its parameters as the CLI parses them."""
    import typer.main

    from noise2stack.cli import app

    group = typer.main.get_command(app)
    if not argv or argv[0].startswith("-"):
        return "", {}
    command = group.get_command(group.make_context("noise2stack", [], resilient_parsing=True), argv[0])
    assert command is not None, f"unknown command {argv[0]!r}"
    ctx = command.make_context(argv[0], list(argv[1:]), resilient_parsing=True)
    return argv[0], ctx.params


def outputs(argv: list[str]) -> list[Path]:
    """The files and folders a command writes (``train --resume`` writes into the folder it reads)."""
    from noise2stack.api import sidecar_path

    name, p = parse(argv)
    found = {
        "train": [p.get("resume") or p.get("out")],
        "predict": [p.get("out"), p.get("uncertainty"), p.get("save_units")],
        "simulate": [p.get("out"), sidecar_path(p["out"]) if p.get("noise") == "kspace" else None],
        "denoise": [p.get("out")],
        "compare": [p.get("out")],
        "noise-model": [p.get("out"), p.get("plot")],
        "report": [p.get("out")],
        "export": [p.get("out")],
        "demo": [p.get("out")],
        "analyze": [p.get("figure")],
    }.get(name, [])
    return [Path(f) for f in [*found, p.get("log_json")] if f is not None]


def check_promise(argv: list[str], stdout: str, folder: Path) -> None:
    """What the command promised exists: the model folder, the output, the JSON it prints."""
    name, p = parse(argv)
    where = f"noise2stack {shlex.join(argv)}"
    if not name:
        assert "noise2stack" in stdout.lower(), where
        return
    for path in outputs(argv):
        assert (folder / path).exists(), f"{where}: {path} was not written"
    if name == "train":
        model = folder / (p.get("resume") or p["out"])
        models = [model] if (model / "config.yaml").is_file() else sorted(model.glob("channel-*"))
        assert models and all((m / "weights.safetensors").is_file() for m in models), f"{where}: no model in {model}"
    elif name == "predict" and str(p["out"]).endswith(".zarr"):
        assert (folder / p["out"] / "zarr.json").is_file(), f"{where}: no Zarr store"
    elif name == "predict" and p.get("save_units"):
        assert any((folder / p["save_units"]).iterdir()), f"{where}: no unit images"
    elif name == "compare":
        assert (folder / p["out"] / "comparison.md").is_file(), where
    elif name == "demo":
        assert (folder / p["out"] / "panel.png").is_file() and (folder / p["out"] / "metrics.json").is_file(), where
    elif name in ("evaluate", "analyze") and p.get("as_json"):
        result = json.loads(stdout)
        assert ("psnr" if name == "evaluate" else "recommendation") in result, where
    elif name in ("evaluate", "analyze"):
        assert stdout.strip(), f"{where}: printed nothing"
    if p.get("log_json"):
        lines = (folder / p["log_json"]).read_text().splitlines()
        assert lines and all(json.loads(line) for line in lines), f"{where}: no JSON lines"


def _local_cluster():
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    )


# --- the tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("commands", SHELL_BLOCKS)
def test_shell_example_runs(commands, run_in):
    from typer.testing import CliRunner

    from noise2stack.cli import app

    written = {
        Path(str(o).replace("/shared/", "")).parts[0]
        for argv in commands
        if "--resume" not in argv
        for o in outputs(argv)
    }
    folder = run_in(written)
    cluster = _local_cluster() if any(EXAMPLE_ADDRESS in a for argv in commands for a in argv) else None
    try:
        for original in commands:
            argv = tiny(original, cluster.scheduler_address if cluster else None)
            result = CliRunner().invoke(app, argv, prog_name="noise2stack")
            assert result.exit_code == 0, (
                f"noise2stack {shlex.join(original)}\nran as: noise2stack {shlex.join(argv)}\n"
                f"exit {result.exit_code}\n{result.output[-3000:]}\n{result.exception!r}"
            )
            check_promise(argv, result.stdout, folder)
    finally:
        if cluster is not None:
            cluster.close()


def _python_outputs(code: str) -> set[str]:
    written = set()
    for pattern in (
        r"(?:api|n2s)\.(?:simulate|denoise)\(\s*\"[^\"]*\",\s*\"([^\"]+)\"",
        r"(?:api|n2s)\.predict\([^,]+,\s*[^,]+,\s*\"([^\"]+)\"",
        r"(?:api|n2s)\.train\([^,]+,\s*\"([^\"]+)\"",
    ):
        written.update(re.findall(pattern, code))
    return written


class _SLURMCluster:
    """Stand-in for ``dask_jobqueue.SLURMCluster``: a local cluster that takes the same arguments."""

    made: list = []

    def __init__(self, **options) -> None:
        self._cluster = _local_cluster()
        self.made.append(self._cluster)

    def scale(self, jobs: int = 1) -> None:
        pass

    @property
    def scheduler_address(self) -> str:
        return self._cluster.scheduler_address


@pytest.mark.parametrize("code", PYTHON_BLOCKS)
def test_python_example_runs(code, run_in, monkeypatch):
    folder = run_in(_python_outputs(code))
    monkeypatch.setitem(sys.modules, "dask_jobqueue", types.SimpleNamespace(SLURMCluster=_SLURMCluster))
    tiny_code = re.sub(r"max_time=\d+(\.\d*)?", TINY_PY, code)
    try:
        exec(compile(tiny_code, "<example>", "exec"), {"__name__": "__example__"})
    finally:
        while _SLURMCluster.made:
            _SLURMCluster.made.pop().close()
    literals = [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for name in literals:
        if re.fullmatch(r"[\w./-]+\.(tif|tiff|npy|npz|zarr|nii|nii\.gz|html|zip|png)", name):
            assert (folder / name).exists(), f"{name} was not written"
    for name in re.findall(r"(?:api|n2s)\.train\([^,]+,\s*\"([^\"]+)\"", code):
        assert (folder / name / "weights.safetensors").is_file(), f"no model in {name}"


# What the README showed before its depth moved into docs/: every command line (file names as the docs
# use them; the README wrote `analyze noisy.tif [--target copy.tif] [--json]`, `--resume MODEL_DIR`, a
# trailing `...`, and trained Noise2SR and NRRN into the same folder `m`) and every flag it named.
BEFORE_THE_SPLIT = [
    "simulate clean.tif noisy.tif --noise poisson-gaussian --peak 30 --sigma 8 --seed 1",
    "train noisy.tif --out model --method n2stack --mode self --neighbors 2 --max-time 300",
    "predict model noisy.tif denoised.tif --tile 512",
    "evaluate denoised.tif clean.tif --normalize care --json",
    "train copyA.tif --target copyB.tif --out model --mode copy --neighbors 4",
    "denoise noisy.tif out.tif --method nlm",
    "denoise noisy.tif out_bm3d.tif --method bm3d --sigma 12 --average-neighbors 1",
    "compare clean.tif --noise poisson --peak 8 --budget 300 --out cmp/",
    "noise-model nm.npz --calibration repeats.tif --plot nm.png",
    "noise-model nm_pairs.npz --signal clean.tif --observation noisy.tif",
    "noise-model nm_fit.npz --estimate-from noisy.tif",
    "train noisy.tif --out pn2v_model --method pn2v --noise-model nm.npz --samples 64",
    "train noisy.tif --out pn2stack_model --method pn2stack --neighbors 2 --noise-model nm.npz",
    "predict pn2stack_model noisy.tif den.tif --uncertainty std.tif",
    "train noisy.tif --out sr_model --method n2sr",
    "predict sr_model noisy.tif sr.tif --output-scale 2",
    "train noisy.tif --out nrrn_model --method nrrn --units 1",
    "predict nrrn_model noisy.tif nrrn.tif --images 1 --save-units units/ --stitch cut",
    "train other.tif --out model2 --init model",
    "analyze noisy.tif",
    "analyze noisy.tif --target copy.tif --json",
    "report model noisy.tif --reference clean.tif --out report.html",
    "export model model.zip --format bioimageio",
    "simulate t1.nii.gz a.nii.gz --noise kspace --keep 0.1 --seed 1",
    "simulate t1.nii.gz b.nii.gz --noise kspace --keep 0.1 --seed 2",
    "train a.nii.gz --target b.nii.gz --mode copy --neighbors 4 --out mri_model",
    "predict mri_model a.nii.gz den.nii.gz --kspace a.kspace.npz --kspace b.kspace.npz",
    "predict model in.ome.zarr out.zarr --chunk-planes 32 --pyramid",
    "predict model big.tif big_out.zarr --axes TCZYX --stack-axis Z",
    "train in.ome.zarr --out zarr_model --workers 2",
    "predict model /shared/in.ome.zarr /shared/out.zarr --scheduler tcp://10.1.2.3:8786",
    "train --resume model",
    "--version",
]
FLAGS_BEFORE_THE_SPLIT = (
    "--n2v2 --quiet --log-json --axes --channels --precision --n2v-fraction --n2v-window --batch-norm "
    "--normalization --loss --stream-cache-mb --epochs --steps-per-epoch --patch --batch --seed --net --config "
    "--val --overwrite --no-residual --tta --overlap --stream --workers --scheduler --jobs --target --method"
).split()
# --devices spreads over GPUs (predict) or DDP processes (train): shown in prose, not run here
PROSE_ONLY = {"--devices"}


def test_every_command_and_flag_is_shown_in_an_example():
    import typer.main

    from noise2stack.cli import app

    shown = [argv for param in SHELL_BLOCKS for argv in param.values[0]]
    lines = {" ".join(argv) for argv in shown}
    missing = [c for c in BEFORE_THE_SPLIT if not any(line.startswith(c) for line in lines)]
    assert not missing, f"examples no longer shown: {missing}"
    flags = {a for argv in shown for a in argv if a.startswith("--")}
    assert not set(FLAGS_BEFORE_THE_SPLIT) - flags - PROSE_ONLY, set(FLAGS_BEFORE_THE_SPLIT) - flags
    prose = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    assert all(flag in prose for flag in PROSE_ONLY)
    group = typer.main.get_command(app)
    commands = set(group.list_commands(group.make_context("noise2stack", [], resilient_parsing=True)))
    assert commands <= {argv[0] for argv in shown}, commands - {argv[0] for argv in shown}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert PYTHON_BLOCKS and SHELL_BLOCKS
