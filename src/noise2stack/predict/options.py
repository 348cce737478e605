"""Prediction options, validated once.

Every entry point (``api.predict``, ``api.predict_chunked``, the tiler, chunked prediction) builds one
:class:`PredictOptions` and hands it down; no other module checks these values again. What depends
on the network (the tile rounded to its pooling grid) or on the model (joint channels) is answered by
the methods here, so each rule still lives in one place.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from noise2stack.errors import Noise2StackError
from noise2stack.resources import check_precision

#: Dask schedulers that run in this process; anything else must be a scheduler address.
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
#: How tiles are joined: weighted blending, or cutting each overlap in its middle.
STITCHES = ("blend", "cut")
#: Settings a chunked store records and a resumed run must share: every one changes the result.
RESULT_SETTINGS = ("stack_axis", "chunk_planes", "tile", "overlap", "tta", "channels", "precision")


class PredictOptions(BaseModel):
    """How to predict: tiling, arithmetic, method views and chunked (Zarr) scheduling.

    Attributes
    ----------
    tile : int
        Side of a tile's core in input pixels (rounded down to the network's pooling grid).
    overlap : int, optional
        Overlap of neighbouring tiles in input pixels; default 0 for ``blend``, twice the network's
        context for ``cut``.
    batch : int, optional
        Tiles per forward pass; default 1 on a CPU, 8 on a GPU.
    tta : bool
        The mean over the 8 rotations and flips of each plane.
    stitch : {"blend", "cut"}
        How tiles are joined (:mod:`noise2stack.predict.blend`, :mod:`noise2stack.predict.cut`).
    output_scale : int
        Output pixels per input pixel along Y and X (the method declares which it offers).
    precision : {"32", "bf16", "16"}
        Arithmetic of the forward passes.
    images : int, optional
        A view option of methods that declare it (``capabilities.view_options``).
    estimate : {"mmse", "prior-mean"}, optional
        A view option of the methods that predict signal samples: what the samples become.
    stack_axis : {"Z", "T"}, optional
        Chunked prediction: the neighbour axis (default Z when present).
    chunk_planes : int
        Chunked prediction: planes per block along the stack axis.
    scheduler : str
        Chunked prediction: ``threads``, ``processes``, ``synchronous`` or a Dask scheduler address.
    jobs : int
        Chunked prediction: blocks at once on a local scheduler.
    pyramid : bool
        Chunked prediction: add a multiscale pyramid when done.
    channels : {"separate", "joint"}, optional
        Default: as the model was trained (:meth:`channels_for`).
    devices : int or tuple of str, optional
        Chunked prediction: a number of GPUs, or torch device names.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tile: int = Field(
        512,
        description="tile side in pixels; each tile also reads the network's context, so any size gives the same result",
    )
    overlap: int | None = Field(
        None, description="overlap of neighbouring tiles in pixels (default: 0 for blend, twice the context for cut)"
    )
    batch: int | None = Field(None, description="tiles per forward pass (default: 1 on CPU, 8 on GPU)")
    tta: bool = Field(False, description="mean over the 8 rotations and flips (8x the time)")
    stitch: str = Field("blend", description="blend | cut: blend the tile overlaps, or cut them in the middle")
    output_scale: int = Field(
        1, description="2: keep the super-resolved output of a model that offers it (Y and X doubled)"
    )
    precision: str = Field(
        "32",
        description="32 | bf16 | 16: arithmetic of the forward passes (bf16: ~2x faster on CPUs with AVX512-BF16; 16: GPUs)",
    )
    images: int | None = Field(
        None,
        description="models that take several images: infer from 3 (the plane and both neighbours), 2 or 1 (default: 3)",
    )
    estimate: str | None = Field(
        None,
        description="models that predict signal samples through a noise model: mmse (the samples weighted by the "
        "noise model's likelihood of the observed pixel) or prior-mean (their plain mean) (default: mmse)",
    )
    sr_inference: str | None = Field(
        None,
        description="super-resolving models (a net that outputs a 2x grid): paper (the whole plane through the net, then bilinear x0.5), "
        "polyphase (the four 2x2 sub-sampled images through the net, as in training; each pixel the mean of the "
        "three predictions made without it) or mean (of the two) (default: paper)",
    )
    stack_axis: str | None = Field(
        None, description="Z or T: the axis neighbours are taken along (default: Z when present)"
    )
    chunk_planes: int = Field(
        32, description="Zarr output: planes per chunk along the stack axis (memory grows with it)"
    )
    scheduler: str = Field(
        "threads", description="Zarr output: threads | processes | a dask.distributed scheduler address"
    )
    jobs: int = Field(1, description="Zarr output: chunks predicted at once on a local scheduler")
    pyramid: bool = Field(False, description="Zarr output: add a multiscale pyramid for viewers")
    channels: str | None = Field(
        None,
        description="separate | joint: each channel on its own (MODEL/channel-N per channel, or one model for all), "
        "or all at once by a model trained with --channels joint (default: as the model was trained)",
    )
    devices: int | tuple[str, ...] | None = Field(
        None,
        description="Zarr output: spread the chunks over N GPUs, each taking its own ranges along the stack axis",
        json_schema_extra={"cli_type": "int"},  # the command line takes a count; Python also device names
    )

    def __init__(self, **values) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # pydantic's report is many lines; the user gets one
            raise _one_line(exc) from None

    @field_validator("tile", "chunk_planes", "jobs", "output_scale")
    @classmethod
    def _positive(cls, value: int, info) -> int:
        if value < 1:
            raise Noise2StackError(f"`{info.field_name}` must be positive, got {value}")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise Noise2StackError("`batch` must be at least 1")
        return value

    @field_validator("overlap")
    @classmethod
    def _overlap(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise Noise2StackError("`overlap` must be >= 0")
        return value

    @field_validator("stitch")
    @classmethod
    def _stitch(cls, value: str) -> str:
        if value not in STITCHES:
            raise Noise2StackError(f"unknown `stitch` {value!r}; use blend or cut")
        return value

    @field_validator("precision")
    @classmethod
    def _precision(cls, value: str) -> str:
        check_precision(value)  # also refuses fp16 without a GPU
        return value

    @field_validator("stack_axis")
    @classmethod
    def _stack_axis(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in ("Z", "T"):
            raise Noise2StackError(f"`stack_axis` must be Z or T, got {value!r}")
        return None if value is None else value.upper()

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str) -> str:
        if value not in LOCAL_SCHEDULERS and "://" not in value and ":" not in value:
            raise Noise2StackError(
                f"`scheduler` {value!r} is neither {', '.join(LOCAL_SCHEDULERS)} nor a scheduler address (tcp://HOST:PORT)"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: str | None) -> str | None:
        if value not in (None, "separate", "joint"):
            raise Noise2StackError(f"unknown `channels` {value!r}; use separate or joint")
        return value

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: int | tuple[str, ...] | None) -> int | tuple[str, ...] | None:
        if isinstance(value, int) and value < 1:
            raise Noise2StackError(f"`devices` must be at least 1, got {value}")
        for name in value if isinstance(value, tuple) else ():
            try:
                torch.device(name)
            except RuntimeError:
                raise Noise2StackError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
        return value

    @model_validator(mode="after")
    def _devices_need_a_local_scheduler(self) -> PredictOptions:
        if self.devices not in (None, 1) and self.scheduler not in ("threads", "synchronous"):
            raise Noise2StackError(
                "`devices` spreads chunks over this machine's GPUs with `scheduler` threads; on a Dask cluster "
                "start one worker per GPU (each worker uses its own) and leave out `devices`"
            )
        return self

    def core_tile(self, align: int) -> int:
        """``tile`` rounded down to the pooling grid of a network (``align = 2**depth`` px)."""
        tile = self.tile // align * align
        if tile < align:
            raise Noise2StackError(f"`tile` must be at least {align} pixels for this network")
        return tile

    def batch_on(self, device_type: str) -> int:
        """Tiles per forward pass on a torch device type: ``batch``, else 8 on a GPU and 1 on a CPU
        (measured fastest, benchmarks/speed/results/predict_speed.md)."""
        if self.batch is not None:
            return self.batch
        return 8 if device_type == "cuda" else 1

    def channels_for(self, joint_channels: int) -> str:
        """``channels`` as a model trained with ``joint_channels`` takes it: None gives the model's
        way; a value that contradicts it is refused."""
        trained = "joint" if joint_channels > 1 else "separate"
        if self.channels is not None and self.channels != trained:
            how = f"{joint_channels} channels jointly" if joint_channels > 1 else "one channel at a time"
            raise Noise2StackError(f"`channels` {self.channels}: this model was trained on {how}; leave out `channels`")
        return trained

    def require_in_memory(self) -> None:
        """Refuse options that only chunked (Zarr) prediction has."""
        if self.devices not in (None, 1):
            raise Noise2StackError(
                "`devices` spreads the chunks of a Zarr (chunked) prediction over GPUs; write OUT.zarr to use it"
            )

    def record(self, **resolved) -> dict:
        """The settings a chunked store records (:data:`RESULT_SETTINGS`), with the values the run
        resolved (``stack_axis``, ``channels``) in place of the defaults; ``stitch`` only when it is not
        the default, so stores recorded before it existed still resume."""
        settings = {name: resolved.get(name, getattr(self, name)) for name in RESULT_SETTINGS}
        if self.stitch != "blend":
            settings["stitch"] = self.stitch
        return settings

    def without_tta(self) -> PredictOptions:
        """The same options for one view of test-time augmentation."""
        return PredictOptions(**{**self.model_dump(), "tta": False})


def _one_line(exc: ValidationError) -> Noise2StackError:
    """The first problem of a validation error, as the project's one-line error."""
    first = exc.errors()[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, Noise2StackError):  # raised by a validator above: its text is already the message
        return cause
    name = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return Noise2StackError(f"unknown prediction option `{name}`")
    return Noise2StackError(f"`{name}`: {first['msg']} (got {first.get('input')!r})")
