"""The sections of a training configuration that every method shares, and the base of the method sections.

A :class:`~noise2stack.config.TrainConfig` is ``algorithm`` (one :class:`AlgorithmConfig` subclass
per method, defined in that method's module and chosen by its ``method`` tag), ``data``
(:class:`DataConfig`) and ``training`` (:class:`TrainingConfig`). Each field is written once, with
its help text; :func:`option` adds what the command line and the flat (version 1) layout need:

* ``flag``: the command-line option (default ``--`` + the field name with dashes);
* ``flat``: the field's name in the flat layout of model folders written before the sections and
  in ``api.train(**options)`` (default: the field name);
* ``cli=False``: set by the program, not an option (e.g. ``init_from``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from noise2stack.nets import NETS

#: blind-spot shapes (noise2stack.nets.blindspot.SHAPES, which a test keeps equal)
BlindSpotShape = Literal["pixel", "horizontal", "vertical", "both"]


def option(
    default: Any, description: str, *, flag: str | None = None, flat: str | None = None, cli: bool = True, **limits
) -> Any:
    """A pydantic ``Field`` with its help text and how the CLI and the flat layout name it."""
    extra: dict[str, Any] = {"cli": cli}
    if flag is not None:
        extra["flag"] = flag
    if flat is not None:
        extra["flat"] = flat
    return Field(default, description=description, json_schema_extra=extra, **limits)


class Section(BaseModel):
    """A part of the configuration: unknown keys are refused, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    """What the network sees: axes, patches, normalisation, validation planes, loading (sizes in pixels)."""

    axes: str = option("ZYX", "axis letters of the input files (Z or T, C, Y, X)")
    patch: int = option(
        64, "side of the square training patches in pixels (64 unless the method sets its own)", ge=8, le=4096
    )
    batch: int = option(16, "patches per training step (16 unless the method sets its own)", ge=1, le=4096)
    normalization: Literal["percentile", "minmax", "meanstd"] = option(
        "percentile",
        "percentile (CARE, 3-99.8 % to 0-1), minmax (to -0.5-0.5) or meanstd (zero mean, unit std; CAREamics)",
    )
    percentiles: tuple[float, float] = option((3.0, 99.8), "low and high percentile of percentile normalisation")
    background: bool = option(False, "subtract the median background image first (paper 000, 3.2)")
    augmentation: Literal["dihedral", "translate", "none"] = option(
        "dihedral", "training patch augmentation: the 8 rotations and flips, translations only, or none"
    )
    val_fraction: float = option(0.1, "share of planes held out for validation", ge=0.0, lt=1.0)
    val_patches: int = option(32, "fixed validation patches", ge=1, le=100_000)
    workers: int = option(0, "data-loader worker processes", flat="num_workers", ge=0, le=64)
    stream_cache_mb: int = option(
        256,
        "streaming from a store: MiB of normalised planes each process (main and every worker) caches; when the "
        "training planes are more, batches draw from blocks of whole stored chunks that fit in it",
        ge=1,
        le=1_048_576,
    )
    joint_channels: int = option(
        1,
        "image channels trained jointly (channels='joint'): the network sees every channel's neighbour planes "
        "and predicts every channel at once; 1: a single-channel model",
        cli=False,
        ge=1,
        le=64,
    )

    @field_validator("axes")
    @classmethod
    def _axes_letters(cls, value: str) -> str:
        value = value.upper()
        if not value or set(value) - set("ZTCYX") or len(set(value)) != len(value):
            raise ValueError("use the letters Z (or T), C, Y, X once each")
        return value

    @field_validator("percentiles")
    @classmethod
    def _percentile_order(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low < high <= 100:
            raise ValueError("need 0 <= low < high <= 100")
        return value


class TrainingConfig(Section):
    """How long and how the optimiser runs (times in seconds)."""

    max_time: Optional[float] = option(None, "wall-clock budget for training in seconds", gt=0)
    epochs: Optional[int] = option(None, "epochs [default: 100, or as many as fit in max_time]", ge=1, le=100_000)
    steps_per_epoch: int = option(
        100,
        "optimisation steps per epoch; with max_time and not given, chosen for about 10 epochs (10 to 100 steps)",
        ge=1,
        le=1_000_000,
    )
    seed: int = option(0, "random seed", ge=0, lt=2**32)
    lr: Optional[float] = option(
        None,
        "Adam's initial learning rate, cosine decay to 0 per step (default: the method's, 1e-3; NRRN 1e-4)",
        gt=0,
        le=1.0,
    )
    warmup_steps: int = option(0, "linear learning-rate warm-up over this many steps", ge=0, le=1_000_000)
    precision: Literal["auto", "32", "bf16", "16"] = option(
        "auto",
        "training arithmetic: auto | 32 | bf16 | 16; bf16 or fp16 (GPU only) mixed precision keeps weights, "
        "optimiser and loss in float32; auto: bf16 where the hardware computes it natively (CPUs with "
        "AVX512-BF16 or AMX, GPUs with bf16), fp16 on older GPUs, else float32. The model folder records the one used",
    )
    devices: int = option(
        1,
        "train on N devices with Lightning DDP (GPUs, or CPU processes with the gloo backend); needs epochs",
        ge=1,
        le=64,
    )
    channels_last: bool = option(True, "channels_last memory layout (faster convolutions on CPU)")
    checkpoint_seconds: float = option(
        120.0, "write a resumable checkpoint at least this often in seconds (and every epoch)", ge=0, le=86_400
    )
    init_from: Optional[dict[str, str]] = option(
        None, "the model whose weights training started from: {path, sha256 of its weights file}", cli=False
    )

    def total_epochs(self) -> int:
        return self.epochs if self.epochs is not None else 100


class AlgorithmConfig(Section):
    """What every method's section holds: its tag, the network and the loss.

    A method's module subclasses this with ``method: Literal["name"] = "name"``, its own fields
    and its own defaults (``neighbors``, ``residual``, ``net``), and ``default_lr``.
    """

    default_lr: ClassVar[float] = 1e-3  # Adam's learning rate unless training.lr is given
    #: The method's own defaults for fields of the data section the user did not give (NRRN: small
    #: patches, a small batch), e.g. ``{"patch": 16, "batch": 4}``.
    data_defaults: ClassVar[dict[str, Any]] = {}

    method: str = option("", "training strategy, a name in noise2stack.methods.METHODS")  # each section's tag
    mode: Literal["self", "copy"] = option(
        "self", "self: input = neighbours only; copy: plane i + neighbours, target = a noisy copy"
    )
    neighbors: int = option(2, "even number of neighbour planes, N/2 on each side", ge=0, le=64)
    net: str = option("csbdeep-unet", f"network: {' | '.join(NETS)} [default: the method's]")
    residual: bool = option(
        True,
        "add the middle input plane (copy mode) or the mean of the two innermost neighbours (self mode) to "
        "the network output",
    )
    batch_norm: bool = option(
        False, "batch normalisation after every convolution of the U-Net but the last (csbdeep-unet, n2v2-unet)"
    )
    loss: Literal["mse", "mae"] = option(
        "mse", "training loss of the MSE methods: mse | mae (mean absolute error, as CAREamics' N2N)"
    )

    @model_validator(mode="after")
    def _known_net(self) -> AlgorithmConfig:
        if self.net not in NETS:
            raise ValueError(f"unknown net {self.net!r}; choose one of {', '.join(NETS)}")
        if self.neighbors % 2:
            raise ValueError(f"neighbors must be even (N/2 planes on each side), got {self.neighbors}")
        return self


class BlindSpotFields(Section):
    """Noise2Void's masking, shared by the blind-spot methods (n2v, pn2v)."""

    fraction: float = option(
        0.05,
        "blind spot: share of pixels masked per patch (5 %: about 3 dB more than the original 0.2 % at a 60 s "
        "budget, benchmarks/races/results/n2v_race_60.md)",
        flag="--n2v-fraction",
        flat="n2v_fraction",
        gt=0,
        le=0.5,
    )
    window: int = option(
        11,
        "blind spot: side of the square a masked pixel's replacement comes from (odd; 11 as CAREamics and n2v)",
        flag="--n2v-window",
        flat="n2v_window",
        ge=3,
        le=31,
    )
    replacement: Literal["uniform", "median"] = option(
        "uniform",
        "blind spot: a random neighbour in the window (N2V) or the window's median (N2V2)",
        flat="n2v_replacement",
        cli=False,
    )
    struct: BlindSpotShape = option(
        "pixel",
        "structN2V mask against noise correlated along rows (horizontal) or columns (vertical): pixel (plain "
        "N2V) | horizontal | vertical | both; the line is `n2v-struct-length` pixels long",
        flag="--n2v-struct",
        flat="n2v_struct",
    )
    struct_length: int = option(
        5,
        "structN2V: length of the line mask in pixels (odd; 5 as CAREamics)",
        flag="--n2v-struct-length",
        flat="n2v_struct_length",
        ge=1,
        le=31,
    )

    @field_validator("window", "struct_length")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (pixels on both sides of the masked one), got {value}")
        return value


class NoiseModelFields(Section):
    """The probabilistic methods' noise model p(x | s) and its samples (pn2v, pn2stack; paper 004)."""

    noise_model: Optional[str] = option(
        None, "noise-model file (.npz from `noise2stack noise-model`), in raw data units"
    )
    samples: int = option(
        64,
        "signal samples K the network predicts per pixel (paper: 800; 64 keeps CPU steps affordable, see "
        "methods/pn2v.py)",
        flat="pn2v_samples",
        ge=2,
        le=2048,
    )
    clip: bool = option(
        False, "clip the data into the noise model's range instead of refusing data outside it", flat="noise_model_clip"
    )
