"""The two U-Nets of the Noise2Stack paper (000, Tables S1 and S2).

Both take ``in_channels`` planes (N, C, Y, X) and return ``out_channels`` planes (N, K, Y, X), one
by default (K > 1: the K signal samples per pixel of Probabilistic Noise2Void, paper 004 §4.2). Planes whose sides
are not multiples of ``2**depth`` are reflect-padded inside ``forward`` and cropped back, so any
plane size works. ``residual_channels`` lists input channels whose mean is added to the output
(Table S1 layer 19: "adds the middle plane from the input"); empty means no residual. With several
output channels the residual is added to every one of them (each is an estimate of the same signal;
the probabilistic methods train without it, as the PN2V net predicts samples directly).

``joint_channels`` C > 1 (``--channels joint``): every input plane comes as C channel planes
(input channel ``n * C + c`` is neighbour slot n of image channel c), the output is one plane per
image channel, and the residual of output c is the mean of its own channel's residual slots.

``context`` is the number of pixels on each side beyond which the input cannot change an output
pixel (measured with impulses, see ``tests/nets``); the tiler uses it to choose overlaps.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noise2stack.errors import Noise2StackError
from noise2stack.nets.blindspot import BlindSpotStackNet


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, padding=1)


def conv_over_cat(conv: nn.Conv2d, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``conv(cat([x, skip]))`` as the sum of the convolution's two halves over its input channels.

    No concatenated copy is made, in the forward pass nor in the backward pass: 1.07x a float32
    training step of the default net on a 2-core CPU (``benchmarks/speed/results/training_levers.md``).
    Equal to the concatenation to float rounding.
    """
    split = x.shape[1]
    stride, padding, dilation, groups = conv.stride, conv.padding, conv.dilation, conv.groups
    out = F.conv2d(x, conv.weight[:, :split], conv.bias, stride, padding, dilation, groups)
    # in place: a convolution's backward pass does not need its output
    return out.add_(F.conv2d(skip, conv.weight[:, split:], None, stride, padding, dilation, groups))


def _pointwise_op():
    try:
        return torch.ops.mkldnn._convolution_pointwise
    except (AttributeError, RuntimeError):
        return None


# oneDNN's convolution with the activation (and the sum of a second convolution) applied as it
# writes its output: the op that torch.compile's CPU backend emits, callable in eager mode. It has
# no backward, so it serves inference only.
_POINTWISE = _pointwise_op()


def _autocast_on() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4
        return torch.is_autocast_cpu_enabled()


def fused_inference(x: torch.Tensor) -> bool:
    """Whether a forward pass on ``x`` may use oneDNN's fused convolutions (:func:`conv_act`).

    True for float32 inference on a CPU (no gradients, no autocast), outside tracing, scripting and
    ``torch.compile``, so that exported TorchScript and compiled graphs keep the plain ops. On a
    2-core CPU it predicts a 512 x 512 plane 1.13-1.15x faster than the eager convolution, ReLU and
    concatenation (``benchmarks/speed/results/predict_levers.md``); results agree to float rounding.
    """
    if _POINTWISE is None or x.device.type != "cpu" or x.dtype != torch.float32 or torch.is_grad_enabled():
        return False
    if not torch.backends.mkldnn.is_available() or not torch.backends.mkldnn.enabled:
        return False
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
    if torch.jit.is_tracing() or torch.jit.is_scripting() or compiling():
        return False
    return not _autocast_on()


def conv_act(
    conv: nn.Conv2d, x: torch.Tensor, activation: str, scalars: Sequence[float] = (), skip: torch.Tensor | None = None
) -> torch.Tensor:
    """``activation(conv(cat([x, skip])))`` in one oneDNN call per input, with no concatenation.

    The convolution over the concatenated channels is split in two along its input channels: the
    part over ``x`` (with the bias), then the part over ``skip``, which adds the first as it writes
    and applies the activation ("relu", "leaky_relu" with ``scalars = [slope]``, or "none"). Only
    where :func:`fused_inference` holds.
    """
    geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
    if skip is None:
        return _POINTWISE(x, conv.weight, conv.bias, *geometry, activation, list(scalars), "")
    split = x.shape[1]
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    first = _POINTWISE(x, conv.weight[:, :split].contiguous(memory_format=layout), conv.bias, *geometry, "none", [], "")
    second = conv.weight[:, split:].contiguous(memory_format=layout)
    if activation == "relu":  # the only activation oneDNN applies after a fused sum
        return _POINTWISE.binary(skip, first, second, None, *geometry, "add", 1.0, "relu", [], "")
    summed = _POINTWISE.binary(skip, first, second, None, *geometry, "add", 1.0, None, [], "")
    if activation != "leaky_relu":
        return summed
    return F.leaky_relu(summed, scalars[0] if scalars else 0.01, inplace=True)  # 0.01: torch's default slope


class _UNetBase(nn.Module):
    depth: int
    context: int
    floats_per_pixel_train: int
    floats_per_pixel_infer: int
    output_scale: int = 1  # output pixels per input pixel along Y and X (a super-resolving head)
    joint_channels: int = 1  # image channels trained jointly (set by build_net)
    head: nn.Conv2d  # the linear last layer, 3x3, over :meth:`_features`

    def __init__(self, in_channels: int, residual_channels: Sequence[int] = (), out_channels: int = 1) -> None:
        super().__init__()
        if out_channels < 1:
            raise Noise2StackError(f"a network needs at least one output channel, got {out_channels}")
        if in_channels < 1:
            raise Noise2StackError(f"a network needs at least one input channel, got {in_channels}")
        bad = [c for c in residual_channels if not 0 <= c < in_channels]
        if bad:
            raise Noise2StackError(f"residual channels {bad} outside the {in_channels} input channels")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.residual_channels = list(residual_channels)

    def _features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The last hidden layer (N, F, Y, X), the input of ``self.head``."""
        raise NotImplementedError

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(x))

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` padded at the bottom and right to multiples of ``2**depth`` (see the module docstring)."""
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_y, pad_x = (-height) % multiple, (-width) % multiple
        if not (pad_y or pad_x):
            return x
        mode = "reflect" if pad_y < height and pad_x < width else "replicate"
        return F.pad(x, (0, pad_x, 0, pad_y), mode=mode)

    def forward(self, x: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """Denoise a batch: (N, C, Y, X) -> (N, out_channels, Y * s, X * s), s = ``output_scale``.

        ``at``: a boolean (N, Y, X) mask; the output is then (M, out_channels) at its M true pixels
        alone, in ``nonzero`` order, equal to ``forward(x).permute(0, 2, 3, 1)[at]`` to float
        rounding. The head runs at those pixels only: a training loss over a few masked pixels
        (PN2V's 5 %) skips the full-size K-channel head (see :func:`conv_at`).
        """
        if at is not None:
            return self._forward_at(x, at)
        height, width = x.shape[-2:]
        scale = self.output_scale
        out = self._body(self._padded(x))[..., : height * scale, : width * scale]
        if self.residual_channels and self.joint_channels > 1:
            c = self.joint_channels
            slots = [r * c + k for k in range(c) for r in self.residual_channels]
            base = x[:, slots].unflatten(1, (c, len(self.residual_channels))).mean(dim=2)
            out = out + base
        elif self.residual_channels:
            base = x[:, self.residual_channels].mean(dim=1, keepdim=True)
            if scale > 1:  # each sub-pixel gets its input pixel's value
                base = F.interpolate(base, scale_factor=float(scale), mode="nearest")
            out = out + base
        return out

    def _forward_at(self, x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        if self.output_scale != 1 or self.joint_channels != 1:
            raise Noise2StackError("a network's output at chosen pixels needs one image channel at the input's scale")
        if at.shape != (x.shape[0], *x.shape[-2:]) or at.dtype != torch.bool:
            raise Noise2StackError(
                f"`at` must be a boolean (N, Y, X) mask of the input's planes, got {tuple(at.shape)}"
            )
        features = self._features(self._padded(x))
        pad_y, pad_x = features.shape[-2] - at.shape[-2], features.shape[-1] - at.shape[-1]
        out = conv_at(self.head, features, F.pad(at, (0, pad_x, 0, pad_y)))
        if self.residual_channels:
            out = out + x[:, self.residual_channels].mean(dim=1).to(out.dtype)[at][:, None]
        return out


def conv_at(conv: nn.Conv2d, x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` at the true pixels of ``at`` (N, Y, X) only: (M, out_channels), ``nonzero`` order.

    For a 3x3, stride 1, zero-padding 1 convolution (the U-Nets' heads): the M 3x3 neighbourhoods
    are gathered with one index into the padded channels-last features and multiplied with the
    kernel, so the cost is M pixels, not N * Y * X. Measured (Table S1 net, K = 64, batch 16 of
    64², 5 % of pixels, bf16, 2 CPU cores): the whole package step 1.08x faster than with the full head
    (77 -> 72 ms; ``benchmarks/speed/results/pn2v_step.md``).
    """
    if conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1) or conv.groups != 1:
        raise Noise2StackError("conv_at takes a 3x3 convolution with padding 1 and stride 1")
    channels, height, width = x.shape[1:]
    flat = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, channels)
    n, y, xx = at.nonzero(as_tuple=True)
    centre = (n * (height + 2) + y + 1) * (width + 2) + xx + 1
    offsets = torch.tensor([dy * (width + 2) + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)], device=x.device)
    neighbourhoods = flat.index_select(0, (centre[:, None] + offsets).reshape(-1)).reshape(-1, 9 * channels)
    kernel = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, 9 * channels)  # (K, (dy, dx, c))
    out = neighbourhoods @ kernel.t().to(neighbourhoods.dtype)
    return out if conv.bias is None else out + conv.bias.to(out.dtype)


class CSBDeepUNet(_UNetBase):
    """Table S1: CSBDeep-style U-Net, two levels, 32/64/128 filters, ReLU, linear output.

    ``batch_norm``: batch normalisation between every convolution and its ReLU (not the linear
    head), as CAREamics' U-Net; in prediction it is a fixed affine map per channel, so tiling stays
    exact.

    Layers (IDs of Table S1): down 1 = conv 32, conv 32, maxpool; down 2 = conv 64, conv 64, maxpool;
    middle = conv 128, conv 64; up 2 = upsample, concat(down 2), conv 64, conv 32; up 1 = upsample,
    concat(down 1), conv 32, conv 32, conv 1 (linear); residual add.
    """

    depth = 2
    context = 24
    # activations kept per input pixel (training: all layers for backward, with gradients;
    # inference: the widest few layers alive at once); used for memory estimates
    floats_per_pixel_train = 700
    floats_per_pixel_infer = 200

    def __init__(
        self, in_channels: int, residual_channels: Sequence[int] = (), out_channels: int = 1, batch_norm: bool = False
    ) -> None:
        super().__init__(in_channels, residual_channels, out_channels)
        self.down1 = nn.ModuleList([_conv(in_channels, 32), _conv(32, 32)])
        self.down2 = nn.ModuleList([_conv(32, 64), _conv(64, 64)])
        self.middle = nn.ModuleList([_conv(64, 128), _conv(128, 64)])
        self.up2 = nn.ModuleList([_conv(128, 64), _conv(64, 32)])
        self.up1 = nn.ModuleList([_conv(64, 32), _conv(32, 32)])
        self.head = _conv(32, out_channels)
        self.batch_norm = batch_norm
        if batch_norm:  # beside the convolutions, so models without it keep their weight names
            self.norms = nn.ModuleDict(
                {
                    name: nn.ModuleList([nn.BatchNorm2d(conv.out_channels) for conv in getattr(self, name)])
                    for name in ("down1", "down2", "middle", "up2", "up1")
                }
            )

    def _run(self, block: str, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """The convolutions of ``block`` (e.g. "down1"), each with its batch norm and ReLU; with
        ``skip``, the block's input is ``cat([x, skip])``."""
        if not self.batch_norm and fused_inference(x):
            for k, conv in enumerate(getattr(self, block)):
                x = conv_act(conv, x, "relu", skip=skip if k == 0 else None)
            return x
        norms = self.norms[block] if self.batch_norm else None
        for k, conv in enumerate(getattr(self, block)):
            x = conv(x) if skip is None or k > 0 else conv_over_cat(conv, x, skip)
            if norms is not None:
                x = norms[k](x)  # type: ignore[index]  # ModuleDict items type as Module
            # in place: neither the convolution nor batch norm needs its output for the backward
            # pass; measured 1.12x faster prediction (512 x 512, float32), identical values
            x = F.relu(x, inplace=True)
        return x

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self._run("down1", x)
        d2 = self._run("down2", F.max_pool2d(d1, 2))
        m = self._run("middle", F.max_pool2d(d2, 2))
        u2 = self._run("up2", F.interpolate(m, scale_factor=2.0, mode="nearest"), d2)
        return self._run("up1", F.interpolate(u2, scale_factor=2.0, mode="nearest"), d1)


def max_blur_pool(x: torch.Tensor) -> torch.Tensor:
    """Max-blur-pool (Zhang 2019, used by N2V2): max over 2x2 at stride 1, then a [1 2 1]² blur at stride 2."""
    channels = x.shape[1]
    x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2, stride=1)
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(channels, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, stride=2, groups=channels)


class N2V2UNet(CSBDeepUNet):
    """The Table S1 net changed as N2V2 (Höck et al. 2022) suggests against checkerboard artefacts:
    max-blur-pool instead of max-pool, and no skip connection at the top level."""

    context = 28
    floats_per_pixel_train = 650
    floats_per_pixel_infer = 180

    def __init__(
        self, in_channels: int, residual_channels: Sequence[int] = (), out_channels: int = 1, batch_norm: bool = False
    ) -> None:
        super().__init__(in_channels, residual_channels, out_channels, batch_norm)
        self.up1 = nn.ModuleList([_conv(32, 32), _conv(32, 32)])
        if batch_norm:
            self.norms["up1"] = nn.ModuleList([nn.BatchNorm2d(32), nn.BatchNorm2d(32)])

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self._run("down1", x)
        d2 = self._run("down2", max_blur_pool(d1))
        m = self._run("middle", max_blur_pool(d2))
        u2 = self._run("up2", F.interpolate(m, scale_factor=2.0, mode="nearest"), d2)
        return self._run("up1", F.interpolate(u2, scale_factor=2.0, mode="nearest"))


class N2NUNet(_UNetBase):
    """Table S2: Noise2Noise U-Net (Lehtinen et al.), five levels, 48/96 filters, LeakyReLU 0.1.

    enc 0,1 (48) pool; enc 2..5 (48) each followed by a pool; enc 6 (48); five up levels of
    upsample, concat, conv 96, conv 96 (the last: concat input, conv 64, conv 32, conv 1 linear).
    """

    depth = 5
    context = 158
    floats_per_pixel_train = 900
    floats_per_pixel_infer = 350

    def __init__(self, in_channels: int, residual_channels: Sequence[int] = (), out_channels: int = 1) -> None:
        super().__init__(in_channels, residual_channels, out_channels)
        self.enc0 = _conv(in_channels, 48)
        self.enc1 = _conv(48, 48)
        self.enc = nn.ModuleList([_conv(48, 48) for _ in range(5)])  # IDs 5, 7, 9, 11, 13
        self.dec5 = nn.ModuleList([_conv(96, 96), _conv(96, 96)])
        self.dec4 = nn.ModuleList([_conv(144, 96), _conv(96, 96)])
        self.dec3 = nn.ModuleList([_conv(144, 96), _conv(96, 96)])
        self.dec2 = nn.ModuleList([_conv(144, 96), _conv(96, 96)])
        self.dec1 = nn.ModuleList([_conv(96 + in_channels, 64), _conv(64, 32)])
        self.head = _conv(32, out_channels)

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.1, inplace=True)  # the input is a fresh convolution output

    def _conv_act(
        self, conv: nn.Conv2d, x: torch.Tensor, skip: torch.Tensor | None = None, fused: bool = False
    ) -> torch.Tensor:
        if fused:
            return conv_act(conv, x, "leaky_relu", [0.1], skip)
        return self._act(conv(x) if skip is None else conv_over_cat(conv, x, skip))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        fused = fused_inference(x)
        skips = [x]
        h = F.max_pool2d(self._conv_act(self.enc1, self._conv_act(self.enc0, x, fused=fused), fused=fused), 2)
        skips.append(h)
        for conv in self.enc[:4]:
            h = F.max_pool2d(self._conv_act(conv, h, fused=fused), 2)  # type: ignore[arg-type]  # ModuleList items type as Module
            skips.append(h)
        # skips now: x, pool1..pool4
        h = self._conv_act(self.enc[4], skips.pop(), fused=fused)  # type: ignore[arg-type]  # ModuleList items type as Module
        for block in (self.dec5, self.dec4, self.dec3, self.dec2, self.dec1):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            for k, conv in enumerate(block):
                h = self._conv_act(conv, h, skips.pop() if k == 0 else None, fused)  # type: ignore[arg-type]  # ModuleList items type as Module
        return h


NETS: dict[str, Callable[..., _UNetBase]] = {"csbdeep-unet": CSBDeepUNet, "n2n-unet": N2NUNet, "n2v2-unet": N2V2UNet}
JOINT_NETS = ("csbdeep-unet", "n2n-unet", "n2v2-unet")
BATCH_NORM_NETS = ("csbdeep-unet", "n2v2-unet")


def build_net(
    name: str,
    in_channels: int,
    residual_channels: Sequence[int] = (),
    out_channels: int = 1,
    joint_channels: int = 1,
    **options,
) -> _UNetBase:
    """Build the network registered as ``name`` (``out_channels`` output planes; ``options``:
    net-specific, e.g. NRRN's ``units``).

    ``joint_channels`` C > 1: ``in_channels`` and ``out_channels`` count all C image channels
    (multiples of C), and ``residual_channels`` are neighbour slots (see the module docstring).
    """
    if name not in NETS:
        raise Noise2StackError(f"unknown network {name!r}; choose one of {', '.join(NETS)}")
    center = options.pop("blindspot_center", None)
    if center is not None:
        return _blindspot_net(name, in_channels, residual_channels, out_channels, center, options)
    if out_channels != 1:
        options["out_channels"] = out_channels
    if options.pop("batch_norm", False):  # only the nets that have it take the argument
        if name not in BATCH_NORM_NETS:
            raise Noise2StackError(f"`batch_norm` works with {' and '.join(BATCH_NORM_NETS)}, not `net` {name}")
        options["batch_norm"] = True
    if joint_channels > 1:
        if name not in JOINT_NETS:
            raise Noise2StackError(
                f"`channels` joint works with the U-Nets ({', '.join(JOINT_NETS)}), not `net` {name}"
            )
        if in_channels % joint_channels or out_channels != joint_channels:
            raise Noise2StackError(
                f"a joint net of {joint_channels} channels needs a multiple of them in and one plane each out"
            )
    net = NETS[name](in_channels, residual_channels, **options)
    net.joint_channels = joint_channels
    return net


def _blindspot_net(
    name: str, in_channels: int, residual_channels: Sequence[int], out_channels: int, center: int, options: dict
) -> _UNetBase:
    """The U-Net ``name`` on the neighbour planes beside a blind-spot branch on plane ``center``."""
    if name not in JOINT_NETS:
        raise Noise2StackError(f"`mode` blindspot works with the U-Nets ({', '.join(JOINT_NETS)}), not `net` {name}")
    shape, length = options.pop("blindspot_shape", "pixel"), options.pop("blindspot_length", 5)
    features = 16
    neighbours = build_net(name, in_channels - 1, (), out_channels=1 + features, **options)
    net = BlindSpotStackNet(neighbours, center, residual_channels, out_channels, shape, length, features=features)
    return net  # type: ignore[return-value]  # a net with the U-Nets' attributes
