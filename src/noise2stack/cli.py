"""The ``noise2stack`` command line: a thin face over :mod:`noise2stack.api`.

Every command is one API call. A :class:`~noise2stack.errors.Noise2StackError` becomes one line on
stderr and exit code 2; nothing is written in that case.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
import signal
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from typer.core import TyperGroup

from noise2stack import __version__
from noise2stack.errors import Noise2StackError
from noise2stack.progress import ProgressLog, default_mode

_APP_SETTINGS: dict[str, Any] = dict(add_completion=False, pretty_exceptions_enable=False)


class _Commands(TyperGroup):
    """The commands, with ``train`` and ``predict`` built only when they are asked for.

    Their options are generated from the config sections and from ``PredictOptions``, whose modules
    import torch (about 2 s); ``noise2stack evaluate``, ``--version`` and the others start without it.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return ["train", "predict", *super().list_commands(ctx)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in _GENERATED:
            return generated_command(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    help="Self-supervised denoising of image stacks (Noise2Stack and friends).",
    **_APP_SETTINGS,
)


def _api() -> types.ModuleType:
    """:mod:`noise2stack.api`, imported when a command runs, not when the command line starts.

    The API imports torch (about 2 s); importing it here keeps ``--help``, ``--version`` and a
    mistyped option at 0.1 s. The same holds for ``train``'s option table and ``demo``: the
    command line's only imports inside functions, each for that reason.
    """
    return importlib.import_module("noise2stack.api")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"noise2stack: error: {as_flags(message)}", err=True)
    raise typer.Exit(code)


# the API's parameter names where the command's differ
_API_NAMES = {"targets": "target"}
_PYTHON_NAME = re.compile(r"`([a-z_][a-z0-9_]*)(?:=(True|False))?`")


def _flag_table() -> dict[str, tuple[str, str]]:
    """Python name -> (flag, negative flag or "") over every command's options (one name, one flag)."""
    functions = [info.callback for info in app.registered_commands if info.callback is not None]
    functions += list(_FUNCTIONS.values())  # train's and predict's, once built (their errors come after that)
    table: dict[str, tuple[str, str]] = {}
    for function in functions:
        for param in inspect.signature(function).parameters.values():
            decls = getattr(param.default, "param_decls", None) or ()
            flags = [d for d in decls if d.startswith("--")]
            if flags:
                primary, _, negative = flags[0].partition("/")
                table.setdefault(param.name, (primary, negative))
    return table


def as_flags(message: str) -> str:
    """The API speaks Python (`` `tile` ``, `` `residual=False` ``); the command line speaks flags.

    Each quoted parameter name becomes its option (``--tile``, ``--no-residual``); a name no
    command has becomes ``--name-with-dashes``.
    """
    table = _flag_table() if _PYTHON_NAME.search(message) else {}

    def flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        dashed = "--" + name.replace("_", "-")
        primary, negative = table.get(_API_NAMES.get(name, name), (dashed, "--no-" + dashed[2:]))
        return (negative or "--no-" + primary[2:]) if value == "False" else primary

    return _PYTHON_NAME.sub(flag, message)


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Noise2StackError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except MemoryError:
        _fail("out of memory; lower --batch, --tile or --patch")


def _progress_log(quiet: bool, log_json: Optional[Path]):
    """Bar on a terminal, one line per epoch / 10 % otherwise, nothing with --quiet; --log-json: JSON lines."""

    if log_json is not None:
        if log_json.is_dir():
            _fail(f"--log-json {log_json} is a folder, not a file")
        if not log_json.resolve().parent.is_dir():
            _fail(f"--log-json: folder does not exist: {log_json.parent}")
    return ProgressLog(default_mode(quiet), log_json)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"noise2stack {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Self-supervised denoising of image stacks (Noise2Stack and friends)."""


# --- train: its options are generated from the config sections (a field and its help are written once) ---

_PANELS = {"algorithm": "Method", "data": "Data", "training": "Training"}


def _field_flag(name: str, info) -> tuple[str, str]:
    """(Python keyword, flag) of one config field: the flat name ``api.train`` takes, and its option."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("flat", name)), str(extra.get("flag", "--" + name.replace("_", "-")))


def _option_type(annotation) -> Any:
    """The CLI type of a field: choices and strings as str, tuples kept, everything Optional (None: not given)."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        return Optional[str]
    if origin is typing.Union and len(args) == 1:
        return _option_type(args[0])
    if origin is tuple:
        return Optional[tuple[tuple(args)]]  # type: ignore[misc]
    return Optional[annotation]


def _field_option(
    name: str, info, panel: str, default_shown: str | bool, help_text: str | None = None
) -> inspect.Parameter:
    """One typer option of a pydantic field: its flag, its help, its --help group; None means not given."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    keyword, flag = _field_flag(name, info)
    narrowed = {"int": int}.get(str(extra.get("cli_type")))  # a type the command line narrows (devices: a count)
    kind = Optional[narrowed] if narrowed is not None else _option_type(info.annotation)
    flags = [f"{flag}/--no-{flag[2:]}"] if info.annotation is bool else [flag]
    option = typer.Option(
        None, *flags, help=help_text or info.description, rich_help_panel=panel, show_default=default_shown
    )
    return inspect.Parameter(keyword, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)


def _config_options() -> list[inspect.Parameter]:
    """One option per field of every config section (data, training, each method's), grouped in --help."""
    from noise2stack.config_sections import AlgorithmConfig, DataConfig, TrainingConfig
    from noise2stack.methods import METHODS

    # the shared method fields first (their help is written there; a method only changes defaults)
    sections: list[tuple[str, Any]] = [("algorithm", AlgorithmConfig)]
    sections += [("algorithm", m.config_class) for m in METHODS.values()]
    sections += [("data", DataConfig), ("training", TrainingConfig)]
    seen: dict[str, inspect.Parameter] = {}
    for section, cls in sections:
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            keyword, flag = _field_flag(name, info)
            if not extra.get("cli", True) or keyword in seen:
                continue
            default: str | bool = False if info.default is None else str(info.default)
            if name in ("neighbors", "residual", "net"):
                default = f"{info.default}, or the method's"
            description = f"training strategy: {' | '.join(METHODS)}" if name == "method" else None
            panel = "Method options" if section == "algorithm" and cls is not AlgorithmConfig else _PANELS[section]
            seen[keyword] = _field_option(name, info, panel, default, description)
    return list(seen.values())


def _prediction_options() -> list[inspect.Parameter]:
    """One option per field of :class:`~noise2stack.predict.options.PredictOptions`, grouped in --help."""
    from noise2stack.predict.options import PredictOptions

    chunked = ("stack_axis", "chunk_planes", "scheduler", "jobs", "pyramid", "devices")
    return [
        _field_option(name, info, "Chunked (Zarr) prediction" if name in chunked else "Prediction",
                      False if info.default is None else str(info.default))
        for name, info in PredictOptions.model_fields.items()
    ]  # fmt: skip


_TRAIN_RUN_OPTIONS = dict(
    noisy=(Optional[list[Path]], typer.Argument(None, help="noisy stack(s): TIFF, NIfTI, .npy, Zarr or OME-Zarr")),
    out=(Optional[Path], typer.Option(None, "--out", help="model folder to write")),
    target=(
        Optional[list[Path]],
        typer.Option(None, "--target", help="independent noisy copy (copy mode) or clean stack (n2c) of each input"),
    ),
    val=(Optional[Path], typer.Option(None, "--val", help="validation stack instead of held-out planes")),
    val_target=(Optional[Path], typer.Option(None, "--val-target", help="target of the validation stack")),
    config=(
        Optional[Path],
        typer.Option(None, "--config", help="YAML file with any training option (flat or in sections)"),
    ),
    overwrite=(bool, typer.Option(False, "--overwrite", help="replace an existing model folder")),
    resume=(
        Optional[Path],
        typer.Option(None, "--resume", help="continue the interrupted training in this model folder"),
    ),
    quiet=(bool, typer.Option(False, "--quiet", help="print only errors")),
    log_json=(Optional[Path], typer.Option(None, "--log-json", help="append one JSON object per epoch to this file")),
    init=(
        Optional[Path],
        typer.Option(None, "--init", help="fine-tune: start from this trained model's weights (same method and net)"),
    ),
    renormalize=(
        bool,
        typer.Option(
            False, "--renormalize", help="with --init: normalise with statistics of the new data, not the model's"
        ),
    ),
    stream=(
        bool,
        typer.Option(
            False,
            "--stream",
            help="read patches from the files (lazy TIFF, memory-mapped .npy) instead of loading them",
        ),
    ),
    channels=(
        str,
        typer.Option(
            "separate",
            "--channels",
            help="with a C in --axes: separate (one model per channel, in OUT/channel-N) or joint (one model sees "
            "all channels' neighbours and predicts all)",
        ),
    ),
    n2v2=(
        bool,
        typer.Option(
            False,
            "--n2v2",
            help="with --method n2v: the N2V2 variant (median replacement, n2v2-unet) against checkerboard artefacts",
            rich_help_panel="Method options",
        ),
    ),
)


def _train(**given: Any) -> None:
    """Train a denoising model on one or more noisy stacks (or --resume an interrupted one).

    On a terminal a progress bar; otherwise (batch jobs) one line per epoch on stderr.
    """
    api = _api()

    run = {name: given.pop(name) for name in _TRAIN_RUN_OPTIONS}
    resume, out = run["resume"], run["out"]
    if resume is not None and out is not None and Path(out).resolve() != Path(resume).resolve():
        _fail("--resume continues in its own folder; leave out --out")
    if run["n2v2"]:
        from noise2stack.methods.n2v import N2V2

        if given["method"] not in (None, N2V2["method"]) or given["net"] not in (None, N2V2["net"]):
            _fail(f"--n2v2 is a variant of --method {N2V2['method']} (it sets --net {N2V2['net']})")
        given.update(N2V2)
    if given.get("noise_model") is not None:
        given["noise_model"] = str(given["noise_model"])
    log = _progress_log(run["quiet"], run["log_json"])
    model = _run(
        api.train, run["noisy"] or None, out, targets=run["target"], val=run["val"], val_target=run["val_target"],
        config_file=run["config"], overwrite=run["overwrite"], progress=log, resume=resume, init=run["init"],
        renormalize=run["renormalize"], stream=run["stream"], channels=run["channels"], **given,
    )  # fmt: skip
    log.close()
    _report_trained(model, resume or out, run["quiet"])


def _report_trained(model, folder, quiet: bool) -> None:
    """The closing line of ``train``, or the exit code of a run a signal stopped (128 + the signal)."""
    if isinstance(model, list):  # --channels separate: one model per channel
        stopped = [m for m in model if m.stopped_by_signal is not None]
        if stopped:
            typer.echo(
                f"noise2stack: training stopped by a signal in {stopped[0].folder}; run the command again", err=True
            )
            raise typer.Exit(128 + stopped[0].stopped_by_signal)
        if not quiet:
            typer.echo(f"{len(model)} channel models written to {folder}/channel-0 ... channel-{len(model) - 1}")
        return
    if model.stopped_by_signal is not None:
        name = signal.Signals(model.stopped_by_signal).name
        typer.echo(
            f"noise2stack: training stopped by {name}; {folder} holds the best weights so far and a checkpoint; "
            f"continue with: noise2stack train --resume {folder}",
            err=True,
        )
        raise typer.Exit(128 + model.stopped_by_signal)
    if not quiet:
        typer.echo(
            f"model written to {folder} ({model.config.training.epochs} epochs; best weights in weights.safetensors)"
        )


_PREDICT_RUN_OPTIONS = dict(
    model_dir=(Path, typer.Argument(..., help="model folder written by `train`")),
    noisy=(Path, typer.Argument(..., help="stack to denoise")),
    out=(Path, typer.Argument(..., help="output file (float32 TIFF or .npy), or OUT.zarr (chunked)")),
    axes=(Optional[str], typer.Option(None, "--axes", help="axes of the input [default: the model's]")),
    kspace=(
        Optional[list[Path]],
        typer.Option(None, "--kspace", help="k-space sidecar(s) for spectral post-processing"),
    ),
    overwrite=(bool, typer.Option(False, "--overwrite", help="replace an existing output file")),
    quiet=(bool, typer.Option(False, "--quiet", help="print only errors")),
    log_json=(
        Optional[Path],
        typer.Option(None, "--log-json", help="append one JSON object per 10 % of the planes to this file"),
    ),
    uncertainty=(
        Optional[Path],
        typer.Option(None, "--uncertainty", help="pn2v/pn2stack models: also write the posterior std per pixel here"),
    ),
    save_units=(
        Optional[Path],
        typer.Option(None, "--save-units", help="NRRN: folder for the estimate after each building unit (TIFFs)"),
    ),
)


def _predict(**given: Any) -> None:
    """Denoise a stack with a trained model (a bar on a terminal, else one line per 10 % on stderr).

    A Zarr / OME-Zarr input or a *.zarr output is predicted chunk by chunk through Dask (resumable).
    """
    api = _api()
    run = {name: given.pop(name) for name in _PREDICT_RUN_OPTIONS}
    log = _progress_log(run.pop("quiet"), run.pop("log_json"))
    options = {name: value for name, value in given.items() if value is not None}  # unset: the API's default
    out = run.pop("out")
    _run(api.predict, run.pop("model_dir"), run.pop("noisy"), out, progress=log, **run, **options)
    log.close()
    if log.mode != "quiet":
        extra = f", posterior std to {run['uncertainty']}" if run["uncertainty"] else ""
        typer.echo(f"denoised stack written to {out}{extra}")


def _generated(name: str, run: Callable[..., None], run_options: dict, field_options: list) -> Callable[..., None]:
    """``run`` with a signature typer reads: its hand-written run options, then the generated field options."""
    params = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD if option.__class__.__name__ == "ArgumentInfo"
                          else inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in run_options.items()
    ] + field_options  # fmt: skip

    def command(**given: Any) -> None:
        run(**given)

    command.__name__ = name
    command.__doc__ = run.__doc__
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


#: name -> (function, its run options, its generated options), built on first use
_GENERATED: dict[str, tuple[Callable[..., None], dict, Callable[[], list]]] = {
    "train": (_train, _TRAIN_RUN_OPTIONS, _config_options),
    "predict": (_predict, _PREDICT_RUN_OPTIONS, _prediction_options),
}
_BUILT: dict[str, Any] = {}  # the click commands, once built
_FUNCTIONS: dict[str, Callable[..., None]] = {}  # their typed functions (the flag table reads them)


def generated_command(name: str) -> Any:
    """The click command ``name`` (``train`` or ``predict``), built on first use, then kept."""
    if name not in _BUILT:
        run, run_options, field_options = _GENERATED[name]
        single = typer.Typer(**_APP_SETTINGS)
        _FUNCTIONS[name] = _generated(name, run, run_options, field_options())
        single.command(name)(_FUNCTIONS[name])
        _BUILT[name] = typer.main.get_command(single)
    return _BUILT[name]


def train_command() -> Any:
    """The ``train`` command as click runs it."""
    return generated_command("train")


@app.command("noise-model")
def noise_model_command(
    out: Path = typer.Argument(..., help="noise-model file to write (.npz)"),
    signal_file: Optional[Path] = typer.Option(None, "--signal", help="clean signal, paired with --observation"),
    observation: Optional[Path] = typer.Option(None, "--observation", help="noisy observation of --signal, same shape"),
    calibration: Optional[Path] = typer.Option(
        None, "--calibration", help="stack of repeated noisy images of one static scene"
    ),
    estimate_from: Optional[Path] = typer.Option(
        None, "--estimate-from", help="noisy data: fit a Poisson-Gaussian model"
    ),
    plot: Optional[Path] = typer.Option(None, "--plot", help="also write p(x | s) for a few signal levels as a PNG"),
    axes: Optional[str] = typer.Option(
        None, "--axes", help="axes of the input files [default: YX for 2-D, ZYX for 3-D]"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing output files"),
) -> None:
    """Make a noise model p(x | s) for pn2v/pn2stack (histogram, paper 004 §5.2)."""
    api = _api()

    model = _run(
        api.noise_model,
        out,
        signal=signal_file,
        observation=observation,
        calibration=calibration,
        estimate_from=estimate_from,
        plot=plot,
        axes=axes,
        overwrite=overwrite,
    )
    typer.echo(
        f"noise model written to {out} (range [{model.low:.4g}, {model.high:.4g}], made from {model.provenance.get('made_from')})"
    )


@app.command()
def evaluate(
    pred: Path = typer.Argument(..., help="denoised stack"),
    ref: Optional[Path] = typer.Argument(None, help="reference (clean) stack; a time-lapse may go without"),
    normalize: str = typer.Option("none", "--normalize", help="none | care"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    axes: str = typer.Option("ZYX", "--axes", help="axes of both files (TYX: a time-lapse, also judged along T)"),
    noisy: Optional[Path] = typer.Option(
        None, "--noisy", help="time-lapse: the noisy input, for the residual's whiteness and its tSNR"
    ),
    labels: Optional[Path] = typer.Option(
        None, "--labels", help="time-lapse: (Y, X) label image of the regions whose dF/F traces are compared"
    ),
) -> None:
    """PSNR, SSIM and NRMSE per plane and averaged; for a time-lapse also tSNR, dF/F traces and the residual."""
    api = _api()

    result = _run(api.evaluate, pred, ref, normalize=normalize, axes=axes, noisy=noisy, labels=labels)
    if as_json:
        typer.echo(json.dumps(_strict_json(result), allow_nan=False))
        return
    if "per_plane" in result:
        typer.echo(f"{'plane':>5} {'PSNR':>8} {'SSIM':>7} {'NRMSE':>7}")
        for p in result["per_plane"]:
            typer.echo(f"{p['plane']:>5} {p['psnr']:8.2f} {p['ssim']:7.4f} {p['nrmse']:7.4f}")
        typer.echo(f"{'mean':>5} {result['psnr']:8.2f} {result['ssim']:7.4f} {result['nrmse']:7.4f}")
    if "temporal" in result:
        typer.echo(api.temporal_summary(result["temporal"]))


def _strict_json(obj):
    """Non-finite floats become null: ``Infinity`` (identical planes) is not valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strict_json(v) for v in obj]
    return obj


@app.command()
def simulate(
    clean: Path = typer.Argument(..., help="clean image or stack"),
    out: Path = typer.Argument(..., help="noisy output (float32)"),
    noise: str = typer.Option(..., "--noise", help="gaussian | poisson | poisson-gaussian | kspace"),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Gaussian sigma in image units"),
    peak: Optional[float] = typer.Option(None, "--peak", help="photons at the image maximum (Poisson)"),
    keep: Optional[float] = typer.Option(
        None, "--keep", help="kspace: expected kept fraction of frequencies (paper: 0.1)"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    axes: Optional[str] = typer.Option(
        None, "--axes", help="axes of the input (kspace: planes are Y, X) [default: YX or ZYX]"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output file"),
) -> None:
    """Add synthetic noise to a clean image (k-space undersampling also writes a sidecar)."""
    api = _api()

    _run(api.simulate, clean, out, noise, sigma=sigma, peak=peak, seed=seed, overwrite=overwrite, keep=keep, axes=axes)
    typer.echo(f"noisy stack written to {out}")
    if noise == "kspace":
        typer.echo(f"k-space sidecar written to {api.sidecar_path(out)}")


@app.command()
def denoise(
    noisy: Path = typer.Argument(..., help="stack or image to denoise"),
    out: Path = typer.Argument(..., help="output file (float32)"),
    method: str = typer.Option(..., "--method", help="bm3d | nlm | median | gaussian"),
    sigma: Optional[float] = typer.Option(
        None, "--sigma", help="noise sigma in image units [default: estimated per plane]"
    ),
    average_neighbors: int = typer.Option(
        0, "--average-neighbors", help="first average each plane with K neighbours per side"
    ),
    size: int = typer.Option(3, "--size", help="median filter size in pixels"),
    smoothing: float = typer.Option(1.0, "--smoothing", help="Gaussian filter sigma in pixels"),
    axes: Optional[str] = typer.Option(None, "--axes", help="axes of the input [default: YX or ZYX by dimension]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output file"),
    quiet: bool = typer.Option(False, "--quiet", help="print only errors"),
) -> None:
    """Denoise with a training-free method (BM3D, non-local means, median, Gaussian), planes in parallel."""
    api = _api()

    _run(
        api.denoise,
        noisy,
        out,
        method,
        sigma=sigma,
        average_neighbors=average_neighbors,
        axes=axes,
        overwrite=overwrite,
        progress=default_mode(quiet) == "bar",
        size=size,
        smoothing=smoothing,
    )
    if not quiet:
        typer.echo(f"denoised stack written to {out}")


@app.command()
def compare(
    clean: Path = typer.Argument(..., help="clean reference stack; noisy copies are simulated"),
    out: Path = typer.Option(
        ..., "--out", help="folder for comparison.md, results.json, panel.png, psnr_per_plane.png"
    ),
    noise: str = typer.Option(..., "--noise", help="gaussian | poisson | poisson-gaussian"),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Gaussian sigma in image units"),
    peak: Optional[float] = typer.Option(None, "--peak", help="photons at the image maximum (Poisson)"),
    budget: float = typer.Option(300.0, "--budget", help="training seconds per trainable method"),
    methods: Optional[str] = typer.Option(None, "--methods", help="comma-separated row labels [default: all]"),
    normalize: str = typer.Option("care", "--normalize", help="care | none"),
    seed: int = typer.Option(0, "--seed", help="seed of the simulated noise and of training"),
    axes: str = typer.Option("ZYX", "--axes", help="axes of the clean stack"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier comparison in --out"),
    quiet: bool = typer.Option(False, "--quiet", help="print only errors"),
) -> None:
    """Run the paper's comparison (BM3D, Noise2Clean, Noise2Void, Noise2Noise, Noise2Stack) on one stack."""
    api = _api()

    _run(
        api.compare,
        clean,
        out,
        {"noise": noise, "sigma": sigma, "peak": peak},
        budget=budget,
        methods=[m.strip() for m in methods.split(",")] if methods else None,
        normalize=normalize,
        seed=seed,
        axes=axes,
        overwrite=overwrite,
        progress=not quiet,
    )
    if not quiet:
        typer.echo((out / "comparison.md").read_text())


@app.command()
def demo(
    out: Path = typer.Option(
        Path("demo_output"), "--out", help="folder for the demo's results (earlier demo results in it are replaced)"
    ),
    max_time: float = typer.Option(110.0, "--max-time", help="training budget in seconds"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Denoise the shipped example stack end to end and report PSNR/SSIM."""
    from noise2stack.demo import run_demo

    log = _progress_log(quiet, None)  # a bar on a terminal, one line per epoch in a log (`make demo > log`)
    metrics = _run(run_demo, out, max_time=max_time, progress=log)
    log.close()
    n, d = metrics["noisy"], metrics["denoised"]
    typer.echo(f"\n{'':10} {'PSNR (dB)':>10} {'SSIM':>7} {'NRMSE':>7}")
    typer.echo(f"{'noisy':10} {n['psnr']:10.2f} {n['ssim']:7.4f} {n['nrmse']:7.4f}")
    typer.echo(f"{'denoised':10} {d['psnr']:10.2f} {d['ssim']:7.4f} {d['nrmse']:7.4f}")
    typer.echo(f"results in {out}/: panel.png, metrics.json, denoised.tif, noisy.tif, model/")


@app.command()
def analyze(
    stack: Path = typer.Argument(..., help="noisy stack: TIFF or .npy"),
    target: Optional[Path] = typer.Option(None, "--target", help="independent noisy copy of the stack (copy mode)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    axes: Optional[str] = typer.Option(None, "--axes", help="axes of the input [default: YX or ZYX by dimension]"),
    figure: Optional[Path] = typer.Option(
        None, "--figure", help="also write the measurements as a PNG figure (predictability, noise correlations, fit)"
    ),
) -> None:
    """Measure neighbour predictability, noise correlation and noise level; recommend a method."""
    api = _api()

    result = _run(api.analyze, stack, target=target, axes=axes, figure=figure)
    if as_json:
        typer.echo(json.dumps(_strict_json(result), allow_nan=False))
        return
    typer.echo(api.analysis_summary(result))


@app.command()
def report(
    model_dir: Path = typer.Argument(..., help="model folder written by `train`"),
    noisy: Path = typer.Argument(..., help="the noisy stack"),
    out: Path = typer.Option(..., "--out", help="HTML file to write (self-contained: images embedded)"),
    reference: Optional[Path] = typer.Option(
        None, "--reference", help="clean stack of the same shape: adds PSNR/SSIM per plane"
    ),
    denoised: Optional[Path] = typer.Option(None, "--denoised", help="the model's prediction [default: predicted now]"),
    normalize: str = typer.Option("none", "--normalize", help="metric normalisation: none | care"),
    axes: Optional[str] = typer.Option(None, "--axes", help="axes of the inputs [default: the model's]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing report"),
) -> None:
    """One HTML page: before/after planes and crops, training curves, `analyze` figures, per-plane PSNR/SSIM."""
    api = _api()

    result = _run(
        api.report,
        model_dir,
        noisy,
        out,
        reference=reference,
        denoised=denoised,
        normalize=normalize,
        axes=axes,
        overwrite=overwrite,
    )
    line = f"report written to {out}"
    if result["metrics"] is not None:
        line += f" (mean PSNR {result['metrics']['denoised']['psnr']:.2f} dB, noisy {result['metrics']['noisy']['psnr']:.2f} dB)"
    typer.echo(line)


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="model folder written by `train` (n2stack, n2n, n2c or n2v)"),
    out: Path = typer.Argument(..., help="package to write (.zip)"),
    format: str = typer.Option("bioimageio", "--format", help="bioimageio (BioImage Model Zoo, format 0.5)"),
    sample: Optional[Path] = typer.Option(
        None, "--sample", help="noisy stack for the test tensors [default: the training stack]"
    ),
    axes: Optional[str] = typer.Option(None, "--axes", help="axes of --sample [default: the model's]"),
    name: Optional[str] = typer.Option(None, "--name", help="model name in the package"),
    author: Optional[list[str]] = typer.Option(None, "--author", help="author name (repeat for several)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing package"),
) -> None:
    """Write a BioImage Model Zoo package: TorchScript weights, normalisation, test tensors, cover, README."""
    api = _api()

    _run(
        api.export,
        model_dir,
        out,
        format=format,
        sample=sample,
        axes=axes,
        name=name,
        authors=author,
        overwrite=overwrite,
    )
    typer.echo(f"bioimage.io package written to {out}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors (unknown options, missing arguments) are one line, exit 2."""
    try:  # newer typer vendors click; a separately installed click (dask needs one) is another class
        from typer._click.exceptions import UsageError
        from typer.exceptions import Abort
    except ImportError:  # pragma: no cover  (typer before 0.22 runs on click itself)
        from click.exceptions import Abort, UsageError  # type: ignore[assignment]

    try:
        code = app(args=argv, prog_name="noise2stack", standalone_mode=False)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `noise2stack` alone: typer printed the help
            sys.exit(0)
        hint = (
            f" (see noise2stack {exc.ctx.info_name} --help)"
            if exc.ctx is not None and exc.ctx.parent is not None
            else ""
        )
        typer.echo(f"noise2stack: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except Abort:
        typer.echo("noise2stack: error: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
