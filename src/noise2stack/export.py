"""Export a model folder as a BioImage Model Zoo package (bioimage.io, model format 0.5).

Only methods whose prediction is one network pass are exported (``capabilities.chunkable``). The package
holds TorchScript weights (bioimageio.core runs them on CPU without our source code), one input
tensor ``planes`` with axes ``batch, channel, y, x`` and one output ``denoised`` (``batch, channel=1,
y, x``). The input channels are the planes the network reads, in offset order (e.g. planes
``i-2, i-1, i+1, i+2`` for Noise2Stack self mode with 4 neighbours); the consumer assembles them
from the stack, as README.md in the package explains. Our percentile normalisation is an affine map
with numbers fixed at training time, so it is stored as fixed ``scale_linear`` pre-processing
(``x * gain + offset`` into network units) and post-processing (back into input units); the result
equals ``noise2stack predict`` up to float32 rounding.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from noise2stack.data.sampler import input_offsets, plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path
from noise2stack.model import package_version
from noise2stack.predict.engine import predict_array

#: Largest side (pixels) of the test tensor stored in the package.
TEST_SIDE = 128
CITATION = "Papkov et al., Noise2Stack: Improving Image Restoration by Learning from Volumetric Data (2021)"
CITATION_URL = "https://arxiv.org/abs/2011.05105"


def channel_names(offsets: list[int]) -> list[str]:
    """Identifiers of the input channels: ``z_minus_2``, ``z``, ``z_plus_1``, ..."""
    return ["z" if o == 0 else f"z_{'minus' if o < 0 else 'plus'}_{abs(o)}" for o in offsets]


def check_exportable(model) -> None:
    """Raise :class:`Noise2StackError` for a model that a bioimage.io package cannot reproduce."""
    if not model.method.capabilities.chunkable:
        from noise2stack.methods import METHODS

        exportable = [name for name, m in METHODS.items() if m.capabilities.chunkable]
        raise Noise2StackError(
            f"method {model.config.method} does not predict in one network pass; "
            f"bioimage.io export supports {', '.join(exportable)}"
        )
    if model.config.data.joint_channels > 1:
        raise Noise2StackError(
            "bioimage.io export takes single-channel models; train with `channels` separate to export"
        )
    if model.normalizer.background is not None:
        raise Noise2StackError(
            "the model subtracts a median background image, which bioimage.io pre-processing cannot hold; "
            "train without background subtraction to export"
        )


def test_tensors(model, stack: np.ndarray, align: int) -> tuple[np.ndarray, list[int], tuple[slice, slice]]:
    """The package's test input (raw units, ``B C Y X``) from a ``ZYX`` stack, its planes and crop.

    Up to three middle planes, the central crop of at most :data:`TEST_SIDE` pixels per side, a
    multiple of ``align`` (the network's size step) so that no padding is involved.
    """

    n_planes, height, width = stack.shape
    side_y, side_x = min(TEST_SIDE, height) // align * align, min(TEST_SIDE, width) // align * align
    if side_y < align or side_x < align:
        raise Noise2StackError(
            f"the sample stack's planes ({height}x{width}) are smaller than the network's {align} px step"
        )
    y0, x0 = (height - side_y) // 2, (width - side_x) // 2
    box = (slice(y0, y0 + side_y), slice(x0, x0 + side_x))
    middle = n_planes // 2
    planes = sorted({min(max(z, 0), n_planes - 1) for z in (middle - 1, middle, middle + 1)})
    inputs = np.stack(
        [plane_inputs(stack, z, model.neighbors, model.include_center)[:, box[0], box[1]] for z in planes]
    )
    return inputs.astype(np.float32), planes, box


def _readme(model, offsets: list[int], names: list[str]) -> str:
    config = model.config
    mapping = "\n".join(
        f"| {c} | `{n}` | plane i{'' if o == 0 else f' {o:+d}'} |" for c, (o, n) in enumerate(zip(offsets, names))
    )
    norm = model.normalizer
    return f"""# noise2stack {config.method} denoiser

Exported by noise2stack from a model trained with `--method {config.method} --mode {config.algorithm.mode}
--neighbors {config.algorithm.neighbors}` (network `{config.algorithm.net}`).

## Input: the planes the network reads

The input tensor `planes` has axes `batch, channel, y, x`. To denoise plane *i* of a Z stack, put
these planes of the stack into the channels, in this order:

| channel | name | stack plane |
|---|---|---|
{mapping}

At the ends of the stack a missing neighbour is replaced by the nearest existing plane on the same
side, or the first plane on the other side if there is none (noise2stack's marginal-plane rule), so
`z_minus_1` of plane 0 is plane 1. {"Plane *i* itself is not an input: its noise is independent of its neighbours', so the network cannot copy it (self-supervised Noise2Stack)." if 0 not in offsets else ""}
Each batch entry is one plane; y and x must be multiples of {2**model.net.depth}.

## Output

`denoised`: the estimate of plane *i*, axes `batch, channel (1), y, x`, in the input's units.

## Normalisation

Input values are mapped to network units by fixed numbers found at training time (percentiles
{norm.low_value:.6g} -> {norm.out_low:g} and {norm.high_value:.6g} -> {norm.out_high:g}), stored as
`scale_linear` pre-processing; the output is mapped back by the inverse `scale_linear`.

## Reference

{CITATION}, {CITATION_URL}
"""


def _cover(path: Path, test_input: np.ndarray, test_output: np.ndarray, offsets: list[int]) -> None:
    """Input (nearest neighbour plane) and output side by side, 2:1, shared grey levels."""

    channel = offsets.index(0) if 0 in offsets else offsets.index(-1)
    left, right = test_input[0, channel], test_output[0, 0]
    low, high = np.percentile(left, (0.5, 99.5))
    fig = Figure(figsize=(6, 3))
    axes = fig.subplots(1, 2)
    for ax, image, title in zip(axes, (left, right), ("input", "denoised")):
        ax.imshow(image, cmap="gray", vmin=low, vmax=high)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=80)


def export_bioimageio(
    model, stack: np.ndarray, out: Path, name: str | None = None, authors: list[str] | None = None
) -> dict:
    """Write the package to ``out`` (a .zip, atomically). ``stack``: a ``ZYX`` sample for the test tensors.

    Returns
    -------
    dict
        ``out``, ``test_input`` and ``test_output`` (the arrays stored), ``planes`` (sample planes used).
    """
    try:
        from bioimageio.spec import ValidationContext, save_bioimageio_package
        from bioimageio.spec.model import v0_5 as spec
    except ImportError:
        raise Noise2StackError(
            "bioimage.io export needs bioimageio.spec: pip install 'noise2stack[bioimageio]'"
        ) from None

    check_exportable(model)
    align = 2**model.net.depth
    test_input, planes, box = test_tensors(model, stack, align)
    crop = stack[:, box[0], box[1]]
    test_output = predict_array(model, crop)[planes][:, np.newaxis].astype(np.float32)
    offsets = input_offsets(model.neighbors, model.include_center)
    names = channel_names(offsets)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_files(folder, model, test_input, test_output, offsets, names)
        inputs, outputs = _tensors(spec, folder, names, model.normalizer, align)
        with ValidationContext(perform_io_checks=True):
            description = _description(spec, folder, model, names, inputs, outputs, name, authors)
        with atomic_path(out) as tmp_zip:
            save_bioimageio_package(description, output_path=tmp_zip.with_suffix(".zip"))
            os.replace(tmp_zip.with_suffix(".zip"), tmp_zip)
    return {"out": str(out), "test_input": test_input, "test_output": test_output, "planes": planes}


def _write_files(
    folder: Path, model, test_input: np.ndarray, test_output: np.ndarray, offsets: list[int], names: list[str]
) -> None:
    """The package's files in ``folder``: TorchScript weights, test tensors, cover and README."""

    norm = model.normalizer
    net = model.net.float().eval().to(memory_format=torch.contiguous_format)
    with torch.no_grad(), warnings.catch_warnings():
        # The net pads sizes that are not multiples of its step; the package only admits multiples
        # (ParameterizedSize in _tensors), so tracing that branch as "no padding" is exact.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        example = torch.from_numpy(norm.normalize(test_input))
        traced = torch.jit.trace(net, example, check_trace=False)
    traced.save(str(folder / "weights.pt"))
    np.save(folder / "test_input.npy", test_input)
    np.save(folder / "test_output.npy", test_output)
    _cover(folder / "cover.png", test_input, test_output, offsets)
    (folder / "README.md").write_text(_readme(model, offsets, names), encoding="utf-8")


def _tensors(spec, folder: Path, names: list[str], norm, align: int) -> tuple:
    """The input (``planes``) and output (``denoised``) tensor descriptions, with the normalisation
    as fixed ``scale_linear`` pre- and post-processing; y and x are multiples of ``align``."""
    gain = float(norm.scale)
    space = spec.ParameterizedSize(min=align, step=align)
    inputs = spec.InputTensorDescr(
        id=spec.TensorId("planes"),
        description="planes of a Z stack in offset order (channel names); see README.md",
        axes=[
            spec.BatchAxis(),
            spec.ChannelAxis(channel_names=[spec.Identifier(n) for n in names]),
            spec.SpaceInputAxis(id=spec.AxisId("y"), size=space),
            spec.SpaceInputAxis(id=spec.AxisId("x"), size=space),
        ],
        test_tensor=spec.FileDescr(source=folder / "test_input.npy"),
        preprocessing=[
            spec.ScaleLinearDescr(
                kwargs=spec.ScaleLinearKwargs(gain=gain, offset=float(norm.out_low - norm.low_value * gain))
            )
        ],
    )
    same = {axis: spec.SizeReference(tensor_id=spec.TensorId("planes"), axis_id=spec.AxisId(axis)) for axis in "yx"}
    outputs = spec.OutputTensorDescr(
        id=spec.TensorId("denoised"),
        description="the denoised plane i, in input units",
        axes=[
            spec.BatchAxis(),
            spec.ChannelAxis(channel_names=[spec.Identifier("denoised")]),
            spec.SpaceOutputAxis(id=spec.AxisId("y"), size=same["y"]),
            spec.SpaceOutputAxis(id=spec.AxisId("x"), size=same["x"]),
        ],
        test_tensor=spec.FileDescr(source=folder / "test_output.npy"),
        postprocessing=[
            spec.ScaleLinearDescr(
                kwargs=spec.ScaleLinearKwargs(
                    gain=float(1.0 / gain), offset=float(norm.low_value - norm.out_low / gain)
                )
            )
        ],
    )
    return inputs, outputs


def _description(spec, folder: Path, model, names: list[str], inputs, outputs, name, authors):
    """The package's ``ModelDescr`` (validated as it is built: call inside a ``ValidationContext``)."""

    config = model.config
    torch_version = torch.__version__.split("+")[0]
    return spec.ModelDescr(
        name=name or f"noise2stack {config.method} {config.algorithm.mode} {config.algorithm.neighbors} neighbours",
        description=(
            f"Self-supervised denoiser of image stacks (noise2stack {config.method}); "
            f"input channels are the planes {', '.join(names)} around the plane to denoise."
        ),
        authors=[spec.Author(name=a) for a in (authors or ["noise2stack user"])],
        cite=[spec.CiteEntry(text=CITATION, url=spec.HttpUrl(CITATION_URL))],
        license=spec.LicenseId("BSD-3-Clause"),
        documentation=spec.FileDescr(source=folder / "README.md"),
        covers=[spec.FileDescr(source=folder / "cover.png")],
        tags=["denoising", "noise2stack", "self-supervised", "3d", "pytorch"],
        inputs=[inputs],
        outputs=[outputs],
        weights=spec.WeightsDescr(
            torchscript=spec.TorchscriptWeightsDescr(
                source=folder / "weights.pt", pytorch_version=spec.Version(torch_version)
            )
        ),
        version=spec.Version(package_version()),
    )
