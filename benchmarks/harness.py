"""The shared harness of the benchmark shelf: data, noise, seeds, timing, CPU facts and stamped results.

Every script of ``benchmarks/<family>/`` imports this module (and its family's ``_*.py`` helper, if
any), never another script, and runs from the repository root as a module::

    python -m benchmarks.quality.budget --help

Data come from ``../shared/data`` next to the repository (``N2S_DATA`` overrides the folder); noise is
simulated with :func:`noise2stack.api.simulate`. Every result file starts with :func:`stamp`: the
commit (and whether the code differed from it), the date, the CPU and its relevant flags, the torch
version, the seeds, the budget, and which data the run tuned (trained) on and which it scored on.
:func:`write_result` writes ``benchmarks/<family>/results/<name>``; smoke runs go to
``results/smoke/`` (git-ignored: a smoke run checks a script, its figures mean nothing).

Internal imports
----------------
The scripts use :mod:`noise2stack.api` (train, predict, evaluate, simulate, denoise, compare, analyze,
noise_model, load_model, and the attributes of the :class:`~noise2stack.model.Model` it returns:
``net``, ``normalizer``, ``config``, ``method``, ``neighbors``, ``include_center``) and
:mod:`noise2stack.metrics`. The internal modules they still need, and why:

- ``noise2stack.cli.main``: quality.bad_inputs runs the command line in-process for 47 bad inputs
  (what the user sees, without 47 interpreter start-ups); speed.predict_levers and races.peers run
  ``noise2stack predict`` with it in a child process (predict_levers after switching levers off).
- ``noise2stack.errors.Noise2StackError``: scale.scale records the in-memory refusal of a volume too
  large for the memory as a row (the error :mod:`noise2stack.api` raises).
- ``noise2stack.noise.histogram`` (``from_pairs``, ``data_range``): quality.pn2v_benchmark and
  quality.pn2stack_why build the "true" noise model over a value range that also covers the
  evaluated stack; ``api.noise_model`` takes the range from the pairs alone.
- ``noise2stack.noise.kspace`` (``undersample``, ``spectral_consistency``, ``radial_frequency``):
  papers.mri_experiment, papers.mri_spectrum and races.equal_budget (N2N on MRI) corrupt arrays in
  k-space and put measured frequencies back into any array, CAREamics' predictions included;
  ``api.simulate``/``api.predict(kspace=)`` do it through files and our own models only.
- ``noise2stack.plots.image_panel``: papers.mri_experiment draws its panel figure.
- ``noise2stack.data.sampler.plane_inputs``: quality.pn2stack_why takes the mean of the network's
  K samples (the prior, plane i unseen); speed.predict_speed feeds a bare network.
- ``noise2stack.nets.build_net``: speed.predict_speed, speed.profile_step, speed.training_levers,
  speed.training_loop_overhead and races.onednn_kernels time a bare network's forward or training pass.
- ``noise2stack.predict.predict_stack`` and ``noise2stack.predict.tiling`` (``predict_stack``,
  ``tile_starts``): speed.predict_speed times the tiler against a bare pass; quality.stitching
  locates the seams of the cut stitcher and runs Noise2SR's sub-pixel phases through the tiler.
- ``noise2stack.nets.unet`` (``fused_inference``, ``conv_over_cat``), ``noise2stack.predict.cut`` and
  ``noise2stack.predict.tiling`` (``reuse_freed_memory``), ``noise2stack.train.fit`` (its Lightning
  ``Trainer``): speed.predict_levers and speed.training_levers switch these levers off to measure
  what each buys.
- ``noise2stack.train.module.DenoiseModule``: :func:`training_step_times` (speed.profile_step,
  speed.training_levers) and races.peers time the package's training steps between consecutive
  ``training_step`` calls; speed.profile_step and speed.training_loop_overhead build one to time an
  optimisation step with and without Lightning.
- ``noise2stack.config`` (``TrainConfig``, ``make_config``), ``noise2stack.methods.get_method``,
  ``noise2stack.data.normalize`` (``fit_normalizer``, ``Normalizer``), ``noise2stack.data.patches
  .PatchSource`` and ``noise2stack.train.batches`` (``draw_batch``, ``TrainBatches``,
  ``EpochStepSampler``): speed.profile_step and speed.training_loop_overhead draw the package's
  batches outside ``api.train`` to time data and optimisation apart; scale.scale and
  scale.stream_training draw them from a Zarr store against memory, without a network.
- ``noise2stack.data.streaming`` (``LocalPlanes``, ``NormalizedStack``, ``PlaneCache``,
  ``StackView``, ``DEFAULT_CACHE_BYTES``) and ``noise2stack.io.zarr_io`` (``inspect_volume``,
  ``open_array``): scale.scale and scale.stream_training stream those patches from the store.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The shared data folder: ../shared/data beside the repository.
DATA = Path(os.environ.get("N2S_DATA", ROOT.parent / "shared" / "data"))
#: Where results are written and the CAREamics venv lives: this ``benchmarks`` folder, or the real
#: tree's when a frozen copy runs (``snapshot.sh`` sets ``N2S_SHELF``).
SHELF = Path(os.environ.get("N2S_SHELF", ROOT / "benchmarks"))
#: The venv of ``python -m benchmarks.races.peers --setup`` (git-ignored).
PEERS_VENV = SHELF / ".peers-venv"
#: The CPU flags that decide which kernels and precisions a CPU runs.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
#: Noise seeds of the training stack, its independent second copy and the test stack, everywhere.
NOISE_SEEDS = {"train": 0, "copy": 1, "test": 2}

EM_TRAIN = "em_isbi2012_sstem/train_volume_zyx.tif"
EM_TEST = "em_isbi2012_sstem/test_volume_zyx.tif"
MNI152 = "mri_mni152_template_clean/mni152_2009a_t1_zyx.tif"
HAASE = "mri_haase_tfl3d1/haase_mrt_tfl3d1_zyx.tif"


# ---------------------------------------------------------------------------------------------- data


def load_stack(path: str) -> np.ndarray:
    """A stack of the shared data folder as stored (its own dtype and axes).

    Parameters
    ----------
    path : str
        Path relative to :data:`DATA`, e.g. ``"em_isbi2012_sstem/test_volume_zyx.tif"``.
    """
    import tifffile

    return tifffile.imread(DATA / path)


def write_tiff(path: Path, stack: np.ndarray) -> None:
    """A ZYX stack as an uncompressed TIFF, as the package writes one (the input of a timed ``predict``)."""
    import tifffile

    tifffile.imwrite(path, stack, photometric="minisblack", metadata={"axes": "ZYX"})


def em_volume(planes: int) -> np.ndarray:
    """The ISBI EM train and test volumes stacked (train, test, train, test), cut to ``planes`` of 512 x 512."""
    train, test = (load_stack(p).astype(np.float32) for p in (EM_TRAIN, EM_TEST))
    return np.concatenate([train, test, train, test])[:planes]


def simulate(clean: np.ndarray, noise: dict, seed: int) -> np.ndarray:
    """``clean`` with synthetic noise, through :func:`noise2stack.api.simulate`.

    Parameters
    ----------
    clean : ndarray, shape (Z, Y, X)
    noise : dict
        ``noise`` kind and its ``peak`` / ``sigma``; ``sigma_frac`` gives sigma as a fraction of
        ``clean.max()``.
    seed : int
    """
    from noise2stack import api

    return api.simulate(clean, None, seed=seed, **resolve_noise(noise, clean))


def resolve_noise(noise: dict, clean: np.ndarray) -> dict:
    """``noise`` with ``sigma_frac`` turned into ``sigma`` for this stack."""
    noise = dict(noise)
    if "sigma_frac" in noise:
        noise["sigma"] = noise.pop("sigma_frac") * float(clean.max())
    return noise


@dataclass(frozen=True)
class Dataset:
    """A clean stack of the shared data and the synthetic noise the benchmarks add to it."""

    name: str
    path: str
    noise: dict  # api.simulate's keywords; sigma_frac: sigma as a fraction of the image maximum
    planes: tuple = (None, None)

    def clean(self) -> np.ndarray:
        """The clean stack, float32 ZYX."""
        return load_stack(self.path)[slice(*self.planes)].astype(np.float32)

    def load(self, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(clean, noisy) float32 ZYX stacks; the noise drawn with ``seed``."""
        clean = self.clean()
        return clean, simulate(clean, self.noise, seed)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.noise.items())


DATASETS = {
    "tribolium": Dataset(
        "Tribolium light-sheet (100x256x256)",
        "fluo_tribolium_lightsheet/tribolium_lund_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    ),
    "cells3d": Dataset(
        "cells3d nucleus crop (60x60x50)",
        "fluo_cells3d_nucleus_crop/cells3d_mitotic_nucleus_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    ),
    "isbi-em": Dataset("ISBI 2012 EM test volume (30x512x512)", EM_TEST, {"noise": "poisson", "peak": 8.0}),
    "arabidopsis": Dataset(
        "Arabidopsis embryo confocal (106x112x109)",
        "fluo_arabidopsis_embryo_confocal/arabidopsis_embryo_zyx.tif",
        {"noise": "poisson-gaussian", "peak": 30.0, "sigma": 8.0},
    ),
}

#: Poisson-Gaussian noise on three stacks (the ISBI row of DATASETS is Poisson only), so that a true
#: Poisson-Gaussian noise model exists: the noise of the PN2V benchmarks.
PN2V_NOISE = {
    "tribolium": {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    "cells3d": {"noise": "poisson-gaussian", "peak": 30.0, "sigma_frac": 0.02},
    "isbi-em": {"noise": "poisson-gaussian", "peak": 8.0, "sigma_frac": 0.02},
}


def pn2v_dataset(key: str) -> Dataset:
    """The stack ``key`` of :data:`DATASETS` with the PN2V benchmarks' noise (:data:`PN2V_NOISE`)."""
    base = DATASETS[key]
    return Dataset(base.name, base.path, PN2V_NOISE[key], base.planes)


def patch_side(plane_shape: tuple[int, ...]) -> int:
    """Training patch side for planes of ``plane_shape`` (Y, X): 64 px, or the largest multiple of 16
    that fits (cells3d's 60 x 50 planes: 48 px)."""
    return min(64, *plane_shape) // 16 * 16


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` (sample sd) of the runs, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


@dataclass
class Split:
    """A clean stack cut into training and test planes, each with its own noise."""

    train_clean: np.ndarray
    test_clean: np.ndarray
    train: np.ndarray
    copy: np.ndarray  # a second, independent noisy copy of the training planes
    test: np.ndarray

    @property
    def first_test_plane(self) -> int:
        return self.train_clean.shape[0]


def noisy_split(clean: np.ndarray, noise: dict, train_fraction: float = 0.6) -> Split:
    """The first ``train_fraction`` of the planes for training, the rest for testing, with the noise
    seeds of :data:`NOISE_SEEDS` (so every script that splits a stack draws the same noise)."""
    split = int(clean.shape[0] * train_fraction)
    train_clean, test_clean = clean[:split], clean[split:]
    return Split(
        train_clean,
        test_clean,
        simulate(train_clean, noise, NOISE_SEEDS["train"]),
        simulate(train_clean, noise, NOISE_SEEDS["copy"]),
        simulate(test_clean, noise, NOISE_SEEDS["test"]),
    )


def crop(stack: np.ndarray, planes: int, side: int) -> np.ndarray:
    """The central ``planes x side x side`` block (smoke runs)."""
    z0, y0, x0 = ((n - m) // 2 for n, m in zip(stack.shape, (planes, side, side)))
    return np.ascontiguousarray(stack[z0 : z0 + planes, y0 : y0 + side, x0 : x0 + side])


def middle_planes(stack: np.ndarray, count: int) -> tuple[int, np.ndarray]:
    """(first plane, the ``count`` middle planes) of a volume."""
    z0 = (stack.shape[0] - count) // 2
    return z0, stack[z0 : z0 + count]


def pad256(stack: np.ndarray) -> np.ndarray:
    """Planes zero-padded to 256 x 256, centred (the paper's MRI planes)."""
    _, h, w = stack.shape
    out = np.zeros((stack.shape[0], 256, 256), np.float32)
    y0, x0 = (256 - h) // 2, (256 - w) // 2
    out[:, y0 : y0 + h, x0 : x0 + w] = stack
    return out


# ------------------------------------------------------------------------------------------ training


def step_schedule(steps: int) -> dict:
    """``api.train`` options for exactly ``steps`` optimisation steps (epochs of at most 100 steps).

    Steps rather than seconds keep a table independent of the machine's load while it runs.
    """
    epochs = max(1, -(-steps // 100))
    while steps % epochs:
        epochs += 1
    if epochs > max(1, steps // 10):  # a prime: one epoch
        epochs = 1
    return {"epochs": epochs, "steps_per_epoch": steps // epochs}


def steps_done(model_folder: Path) -> int:
    """Optimisation steps a finished training took (the last row of its ``training_log.csv``)."""
    with open(Path(model_folder) / "training_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    return int(rows[-1]["step"]) if rows else 0


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    """(``fn(*args, **kwargs)``, its wall-clock seconds)."""
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


@contextlib.contextmanager
def training_step_times() -> Iterator[list[float]]:
    """Collect ``time.perf_counter()`` at every ``training_step`` call of the package's trainer.

    The differences between consecutive stamps are whole steps: data, forward, backward, optimiser
    and Lightning's hooks. Internal: patches ``noise2stack.train.module.DenoiseModule``.
    """
    from noise2stack.train.module import DenoiseModule

    stamps: list[float] = []
    original = DenoiseModule.training_step

    def stamped(self, batch, batch_idx):
        stamps.append(time.perf_counter())
        return original(self, batch, batch_idx)

    DenoiseModule.training_step = stamped
    try:
        yield stamps
    finally:
        DenoiseModule.training_step = original


def run_python(python: str, script: str, *args, env: dict | None = None) -> tuple[dict, float]:
    """Run ``script`` in a fresh interpreter ``python``: (its last stdout line that is JSON, or {},
    and the process's wall-clock seconds). A failure stops the benchmark with the child's stderr."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", script, *map(str, args)], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed:\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), seconds


def careamics_python(venv: Path) -> str:
    """The interpreter of a CAREamics venv, or stop with how to make one."""
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        raise SystemExit(
            f"no CAREamics venv at {venv}: run `python -m benchmarks.races.peers --setup` first (several GB)"
        )
    return str(python)


# ----------------------------------------------------------------------------------------- the CPU


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo("model name") or "unknown"


def cpu_flags() -> list[str] | None:
    """The flags of :data:`FLAGS` this CPU has, or None when /proc/cpuinfo cannot say."""
    line = _cpuinfo("flags")
    return None if line is None else [f for f in FLAGS if f in line.split()]


def flags_text() -> str:
    present = cpu_flags()
    if present is None:
        return "not recorded"
    absent = [f for f in FLAGS if f not in present]
    return " ".join(present) + (f" (absent: {' '.join(absent)})" if absent else "")


def has_bf16() -> bool:
    """Whether this CPU computes bf16 natively; elsewhere bf16 is emulated (10-20x slower than float32)."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags() or ()))


# ------------------------------------------------------------------------------------------ results


def markdown_table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


#: What a dirty tree ignores: the result files of every family (earlier results are not code). A
#: pathspec ``*`` also matches ``/``, so the trailing ``/*`` reaches every file below ``results``.
RESULTS_PATHSPEC = ":(exclude)benchmarks/*/results/*"


def git_state() -> tuple[str, str]:
    """(short commit hash, "clean" or "dirty") of the code that runs.

    ``snapshot.sh`` records both when it freezes the tree (``N2S_COMMIT``, ``N2S_TREE``, from
    :func:`tree_state`); a run without it asks git here.
    """
    if os.environ.get("N2S_COMMIT"):
        return os.environ["N2S_COMMIT"], os.environ.get("N2S_TREE", "not recorded")
    return tree_state(ROOT)


def tree_state(root: Path) -> tuple[str, str]:
    """(short commit hash, "clean" or "dirty") of the git work tree at ``root``.

    Dirty means a tracked file outside the result folders differs from the commit: earlier results
    do not count. ("not recorded", "not recorded") where git cannot tell.
    """

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changes = git("status", "--porcelain", "--untracked-files=no", "--", ".", RESULTS_PATHSPEC)
    except (OSError, subprocess.CalledProcessError):
        return "not recorded", "not recorded"
    return commit, "dirty" if changes.strip() else "clean"


def format_stamp(fields: dict[str, str], note: str = "written by benchmarks/harness.py") -> str:
    """The stamp block: one ``- key value`` line per field, ``commit`` first, in the first lines."""
    lines = [f"<!-- stamp: {note} -->"] + [f"- {key} {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def stamp(*, seeds: str, budget: str, tuned: str, scored: str) -> str:
    """The stamp of a result written now.

    Parameters
    ----------
    seeds : str
        The training and noise seeds, e.g. ``"training 0; noise train 0, copy 1, test 2"``.
    budget : str
        What each run was given, e.g. ``"60 s wall clock per model"`` or ``"400 steps of batch 16"``.
    tuned : str
        The data the run trained (or chose its settings) on.
    scored : str
        The data the figures were measured on.
    """
    import torch

    from noise2stack import __version__

    commit, tree = git_state()
    return format_stamp(
        {
            "commit": f"{commit} (tree {tree})",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": f"{cpu_model()}; {os.cpu_count()} cores; flags {flags_text()}",
            "torch": f"{torch.__version__}, {torch.get_num_threads()} threads; noise2stack {__version__}",
            **({"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {}),
            "seeds": seeds,
            "budget": budget,
            "tuned on": tuned,
            "scored on": scored,
        }
    )


def family_name(family: str) -> str:
    """``"benchmarks.quality"`` (a script's ``__package__``) or ``"quality"`` -> ``"quality"``."""
    return family.rsplit(".", 1)[-1]


def results_dir(family: str) -> Path:
    """``benchmarks/<family>/results``: the family's current result files."""
    return SHELF / family_name(family) / "results"


def result_path(family: str, name: str, smoke: bool = False) -> Path:
    """``benchmarks/<family>/results/<name>`` (``results/smoke/<name>`` for a smoke run), its folder made."""
    folder = results_dir(family)
    path = (folder / "smoke" if smoke else folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_result(family: str, name: str, title: str, body: str, *, smoke: bool = False, **stamp_fields: str) -> Path:
    """Write a stamped Markdown result: the :func:`stamp` block, ``# title``, then ``body``.

    ``stamp_fields`` are :func:`stamp`'s ``seeds``, ``budget``, ``tuned`` and ``scored``.
    """
    path = result_path(family, name, smoke)
    _write_text(path, f"{stamp(**stamp_fields)}\n# {title}\n\n{body}\n")
    print(f"\nwritten {path}")
    return path


def stamp_file(path: Path, **stamp_fields: str) -> None:
    """Put a :func:`stamp` at the top of a Markdown result another writer made (``api.compare``)."""
    path = Path(path)
    _write_text(path, stamp(**stamp_fields) + "\n" + path.read_text())


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a file
