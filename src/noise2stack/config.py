"""The one configuration model: from the CLI or a YAML file into training, saved with every model.

``TrainConfig`` holds everything that decides how a model is made. It is written to the model
folder as ``config.yaml`` and validated again on load, so a model folder says exactly how it was
made, and a hand-edited or hostile config is refused with a message that names the bad key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from noise2stack.errors import Noise2StackError


class TrainConfig(BaseModel):
    """How a denoising model is trained (all sizes in pixels, times in seconds)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    method: str = Field("n2stack", description="training strategy, a name in noise2stack.methods.METHODS")
    mode: Literal["self", "copy"] = Field(
        "self", description="self: input = neighbours only; copy: plane i + neighbours, target = a noisy copy"
    )
    neighbors: int = Field(2, ge=0, le=64, description="even number of neighbour planes, N/2 on each side")
    net: str = Field("csbdeep-unet", description="network, a name in noise2stack.nets.NETS")
    residual: bool = Field(
        True,
        description="add the middle input plane (copy mode) or the mean of the two innermost neighbours "
        "(self mode) to the network output",
    )
    batch_norm: bool = Field(
        False,
        description="batch normalisation after every convolution of the U-Net but the last (csbdeep-unet, n2v2-unet; as CAREamics)",
    )
    patch: int = Field(64, ge=8, le=4096, description="side of the square training patches")
    batch: int = Field(16, ge=1, le=4096, description="patches per training step")
    epochs: Optional[int] = Field(
        None, ge=1, le=100_000, description="epochs; default 100, or as many as fit in max_time"
    )
    steps_per_epoch: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="optimisation steps per epoch; with max_time and not given, chosen for about 10 epochs (10 to 100 steps)",
    )
    max_time: Optional[float] = Field(None, gt=0, description="wall-clock budget for training")
    seed: int = Field(0, ge=0, lt=2**32)
    loss: Literal["mse", "mae"] = Field(
        "mse",
        description="training loss of the MSE methods: mean squared or mean absolute error (CAREamics' N2N uses MAE)",
    )
    lr: float = Field(1e-3, gt=0, le=1.0, description="Adam's initial learning rate (cosine decay to 0, per step)")
    warmup_steps: int = Field(
        0, ge=0, le=1_000_000, description="linear learning-rate warm-up over this many optimisation steps"
    )
    axes: str = Field("ZYX", description="axis letters of the input files")
    normalization: Literal["percentile", "minmax", "meanstd"] = Field(
        "percentile",
        description="percentile (CARE, 3-99.8 % to 0-1), minmax (to -0.5-0.5) or meanstd (zero mean, unit std; CAREamics)",
    )
    percentiles: tuple[float, float] = Field((3.0, 99.8), description="for percentile normalisation")
    background: bool = Field(False, description="subtract the median background image first (paper 3.2)")
    augmentation: Literal["dihedral", "translate", "none"] = "dihedral"
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="share of planes held out for validation")
    val_patches: int = Field(32, ge=1, le=100_000, description="fixed validation patches")
    channels_last: bool = Field(True, description="channels_last memory layout (faster convolutions on CPU)")
    num_workers: int = Field(0, ge=0, le=64, description="data-loader worker processes")
    stream_cache_mb: int = Field(
        256,
        ge=1,
        le=1_048_576,
        description="streaming from a store: MiB of normalised planes each process (main and every worker) "
        "caches; when the training planes are more, batches draw from blocks of whole stored chunks that fit in it",
    )
    precision: Literal["auto", "32", "bf16", "16"] = Field(
        "auto",
        description="training arithmetic: bf16 or fp16 (GPU only) mixed precision (autocast; weights, optimiser "
        "and loss stay float32) or float32; auto: bf16 where the hardware computes it natively (CPUs with "
        "AVX512-BF16 or AMX, GPUs with bf16), fp16 on older GPUs, else float32. The model folder records the one used",
    )
    joint_channels: int = Field(
        1,
        ge=1,
        le=64,
        description="image channels trained jointly (--channels joint): the network sees every channel's "
        "neighbour planes and predicts every channel at once; 1: a single-channel model",
    )
    devices: int = Field(
        1,
        ge=1,
        le=64,
        description="train on this many devices with Lightning DDP (GPUs, or CPU processes with the gloo backend); needs --epochs",
    )
    n2v_fraction: float = Field(
        0.05,
        gt=0,
        le=0.5,
        description="Noise2Void: share of pixels masked per patch (5 %: about 3 dB more than the original 0.2 % "
        "at a 60 s budget, benchmarks/results/n2v_race.md)",
    )
    n2v_window: int = Field(
        11,
        ge=3,
        le=31,
        description="Noise2Void: side of the square a masked pixel's replacement comes from (odd; 11 as CAREamics and n2v)",
    )
    n2v_replacement: Literal["uniform", "median"] = Field(
        "uniform", description="Noise2Void: a random 5x5 neighbour (N2V) or the 5x5 median (N2V2)"
    )
    # Probabilistic methods (pn2v, pn2stack; paper 004)
    noise_model: Optional[str] = Field(
        None, description="pn2v/pn2stack: noise-model file (.npz from `noise2stack noise-model`), in raw data units"
    )
    pn2v_samples: int = Field(
        64,
        ge=2,
        le=2048,
        description="pn2v/pn2stack: signal samples K the network predicts per pixel (paper: 800; 64 keeps "
        "CPU steps affordable, see methods/pn2v.py)",
    )
    noise_model_clip: bool = Field(
        False,
        description="pn2v/pn2stack: clip the data into the noise model's range instead of refusing data outside it",
    )
    checkpoint_seconds: float = Field(
        120.0, ge=0, le=86_400, description="write a resumable checkpoint at least this often (and every epoch)"
    )
    # --- fine-tuning, Noise2SR and NRRN (issue 10) ---
    init_from: Optional[dict[str, str]] = Field(
        None, description="the model whose weights training started from: {path, sha256 of its weights file}"
    )
    units: int = Field(4, ge=1, le=32, description="NRRN: number of building units (L + 1 in paper 003, eq. 1)")

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

    @model_validator(mode="after")
    def _known_names(self) -> TrainConfig:
        from noise2stack.nets import NETS

        if self.net not in NETS:
            raise ValueError(f"unknown net {self.net!r}; choose one of {', '.join(NETS)}")
        if self.neighbors % 2:
            raise ValueError(f"neighbors must be even (N/2 planes on each side), got {self.neighbors}")
        if self.n2v_window % 2 == 0:
            raise ValueError(f"n2v_window must be odd (a square around the masked pixel), got {self.n2v_window}")
        from noise2stack.nets import METHOD_OF_NET

        if self.net in METHOD_OF_NET and self.method != METHOD_OF_NET[self.net]:
            raise ValueError(f"net {self.net!r} is made for --method {METHOD_OF_NET[self.net]}, not {self.method}")
        return self

    def total_epochs(self) -> int:
        return self.epochs if self.epochs is not None else 100


def _explain(exc: ValidationError, source: str) -> Noise2StackError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return Noise2StackError(f"{source}: {key + ': ' if key else ''}{msg}{more}")


def make_config(source: str = "options", **values) -> TrainConfig:
    """Validate ``values`` into a :class:`TrainConfig`, raising one-line errors."""
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def load_config(path: str | os.PathLike, **overrides) -> TrainConfig:
    """Read a YAML (or JSON) config file; ``overrides`` (not None) win over the file's values."""
    p = Path(path)
    if not p.is_file():
        raise Noise2StackError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Noise2StackError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise Noise2StackError(f"{p} must hold a mapping of option names to values")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(str(p), **data)


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
