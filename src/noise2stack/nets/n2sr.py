"""The Noise2SR network (paper 002 §2.3) and its prediction views (§2.4).

:class:`N2SRUNet` is the Table S1 U-Net of :class:`~noise2stack.nets.unet.CSBDeepUNet` whose last
layer gives 256 channels (ReLU) instead of one, followed by the super-resolution head: a ×2
transposed convolution (kernel 2, stride 2, 256 -> 64 channels, ReLU) and two 1×1 convolutions
(64 -> 64 ReLU, 64 -> 1 linear). Input (N, C, H, W), output (N, 1, 2H, 2W).

Kernel 2 with stride 2 is the transposed convolution whose output blocks do not overlap: the 2×2
output block of input pixel (y, x) depends only on the U-Net features at (y, x), so the network's
``context`` (in input pixels) is the U-Net's, and tiled prediction stays exact.

Prediction (§2.4) is the whole noisy plane through the network, then bilinear down-sampling by 2:
``F.interpolate(out, scale_factor=0.5, mode="bilinear", antialias=False, align_corners=False)``.
With ``align_corners=False`` output pixel ``i`` samples source coordinate ``2i + 0.5``, halfway
between sub-pixels ``2i`` and ``2i + 1``, so at exactly ×0.5 the bilinear weights are 1/2, 1/2 in
each axis: the result is the mean of the four sub-pixels of each input pixel (2×2 mean pooling,
tested). That maps every super-resolved 2×2 cell back onto the input pixel it came from and mixes
nothing else; ``antialias=True`` would widen the kernel to a triangle over 4 sub-pixels and blur
across neighbouring pixels, ``align_corners=True`` would shift the grid. :class:`SRDownsampled` is
that view; :class:`SRFull` keeps the 2H×2W output (``predict --output-scale 2``, tiled natively by
the tiler's ``output_scale``); :class:`SRPhase` picks one of the four sub-pixel phases (the cut
stitcher, which works at scale 1, assembles the super-resolved plane from the four).

:class:`SRPolyphase` is another way to the denoised plane (``predict --sr-inference polyphase``): the
network sees, as in training, images sub-sampled by 2 instead of the whole plane, whose pixels are
twice as dense as anything it was trained on. Each of the four polyphase components
``x[dy::2, dx::2]`` goes through the network; its 2H x 2W output predicts every pixel, and each pixel
keeps the mean of the three predictions from the components that do not hold it. So no pixel's own
value reaches its estimate (J-invariance, the premise of the loss on the complement J^c), and every
pixel is predicted exactly as the loss trained it; but a structure thinner than 2 px is seen only
through a grid twice as coarse. :class:`SRMean` is the mean of the two paths. Which wins depends on the
data (``benchmarks/papers/results/n2sr_inference.md``): scratch runs, one model each, gave
polyphase +1.46 dB over the paper's path on smooth Tribolium nuclei (0-255, Poisson 15 + Gaussian 5,
120 s on 64² patches) and -2.0 to -2.9 dB on Arabidopsis membranes (peak 20, sigma 10).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noise2stack.nets.unet import CSBDeepUNet, _conv


class N2SRUNet(CSBDeepUNet):
    """CSBDeep U-Net with a 256-channel last layer and a ×2 super-resolution head."""

    output_scale = 2
    sr_channels = 256
    head_channels = 64
    # the U-Net's activations plus 256 channels at H×W and 3×64 channels at 2H×2W per input pixel
    floats_per_pixel_train = 700 + 2 * 256 + 4 * 3 * 64
    floats_per_pixel_infer = 200 + 256 + 4 * 2 * 64

    def __init__(self, in_channels: int, residual_channels: Sequence[int] = ()) -> None:
        super().__init__(in_channels, residual_channels)
        self.head = _conv(32, self.sr_channels)
        self.upsample = nn.ConvTranspose2d(self.sr_channels, self.head_channels, kernel_size=2, stride=2)
        self.sr1 = nn.Conv2d(self.head_channels, self.head_channels, kernel_size=1)
        self.sr2 = nn.Conv2d(self.head_channels, 1, kernel_size=1)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, 1, 2H, 2W); padding, cropping and the residual are the base class's."""
        features = F.relu(super()._body(x))  # the U-Net's 256-channel last layer
        return self.sr2(F.relu(self.sr1(F.relu(self.upsample(features)))))


def downsample_bilinear(sr: torch.Tensor) -> torch.Tensor:
    """Paper 002 §2.4: bilinear down-sampling by 2 (equal to 2×2 mean pooling, module docstring)."""
    return F.interpolate(sr, scale_factor=0.5, mode="bilinear", antialias=False, align_corners=False)


class _View(nn.Module):
    """A prediction-time view of a network: the tiler sees ``depth``, ``context`` and memory figures."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.depth = net.depth
        self.context = net.context
        self.in_channels = net.in_channels
        self.floats_per_pixel_train = net.floats_per_pixel_train
        self.floats_per_pixel_infer = net.floats_per_pixel_infer


class SRDownsampled(_View):
    """(N, C, H, W) -> (N, 1, H, W): the denoised plane of paper 002 §2.4."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample_bilinear(self.net(x))


class SRFull(_View):
    """(N, C, H, W) -> (N, 1, 2H, 2W): the super-resolved output itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SRPhase(_View):
    """(N, C, H, W) -> (N, 1, H, W): sub-pixel ``(dy, dx)`` of every 2×2 cell of the 2H×2W output."""

    def __init__(self, net: nn.Module, dy: int, dx: int) -> None:
        super().__init__(net)
        self.dy, self.dx = dy, dx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[..., self.dy :: 2, self.dx :: 2]


class SRPolyphase(_View):
    """(N, C, H, W) -> (N, 1, H, W): the mean of the three predictions of each pixel made from the
    polyphase components that do not contain it (module docstring).

    ``depth`` is one more than the network's (a component's pooling grid is twice as coarse in the
    plane) and ``context`` is twice the network's plus the cell (a component pixel spans two).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        self.depth = int(net.depth) + 1  # type: ignore[arg-type,assignment]  # the nets' own attribute
        self.context = 2 * int(net.context) + 1  # type: ignore[arg-type,assignment]  # the nets' own attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % 2 or width % 2:  # the tiler pads to the pooling grid; a direct call may not
            x = F.pad(x, (0, width % 2, 0, height % 2), mode="replicate")
        total = None
        for dy in (0, 1):
            for dx in (0, 1):
                out = self.net(x[..., dy::2, dx::2])  # (N, 1, H, W): a prediction of every pixel
                out[..., dy::2, dx::2] = 0  # the component's own pixels: not predicted blind
                total = out if total is None else total + out
        assert total is not None
        return (total / 3)[..., :height, :width]


class SRMean(_View):
    """(N, C, H, W) -> (N, 1, H, W): the mean of :class:`SRDownsampled` and :class:`SRPolyphase`."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        self.paper, self.polyphase = SRDownsampled(net), SRPolyphase(net)
        self.depth, self.context = self.polyphase.depth, self.polyphase.context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.paper(x) + self.polyphase(x)) / 2
