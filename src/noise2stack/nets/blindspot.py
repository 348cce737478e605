"""A network that predicts plane i from its neighbours and from plane i seen through a blind spot.

Noise2Stack's self mode sees only the neighbour planes; plane i's own pixels around each pixel are
thrown away. :class:`BlindSpotStackNet` adds them back without letting a pixel's own noise reach its
prediction, so the loss can cover every pixel (no masking, as in Laine et al. 2019 and SUPPORT,
Eom et al. 2023):

* the **neighbour branch** is an ordinary U-Net of the method's choice on the neighbour planes;
* the **blind-spot branch** (:class:`HalfPlaneUNet`) sees plane i only: its convolutions and
  poolings are shifted so that an output pixel sees rows strictly above it. It runs on plane i
  rotated by 0, 90, 180 and 270 degrees (shared weights), so the four copies see the half-planes
  above, left of, below and right of each pixel, and together everything but the pixel itself;
* a **head** of 1 x 1 convolutions mixes both branches' features pixel by pixel (it cannot bring
  in a neighbouring pixel) into a correction of the neighbour branch's own estimate (its first
  output plane, plus the mean of the two innermost neighbours with ``residual``). The head's last
  layer starts at zero, so training starts from exactly self mode's prediction and learns what plane
  i adds (from random heads it trailed self mode by 4.3 dB at 60 s on Tribolium).

Line-shaped blind spots (structN2V's masks, Broaddus et al. 2020) against noise correlated along
rows or columns: ``shape`` ``horizontal`` with ``length`` L also hides the L // 2 pixels left and
right of each pixel (the left- and right-looking copies shift by L // 2 + 1 instead of 1),
``vertical`` those above and below, ``both`` a cross.

Planes are zero-padded to the pooling grid (``pad_mode``): a reflection would copy a pixel's own
value into the half-plane that looks at it (``tests/nets/test_blindspot.py`` proves the blind spot
for every pixel, through the tiler).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from noise2stack.errors import Noise2StackError

#: blind-spot shapes: "pixel" hides the pixel only; the line shapes hide ``length // 2`` more on each side
SHAPES = ("pixel", "horizontal", "vertical", "both")


def line_reach(shape: str, length: int) -> tuple[int, int]:
    """Pixels hidden beside the centre along Y and along X: (above/below, left/right)."""
    if shape not in SHAPES:
        raise Noise2StackError(f"unknown blind-spot shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if length < 1 or length % 2 == 0:
        raise Noise2StackError(f"the blind-spot line length must be odd and positive, got {length}")
    half = length // 2
    return (half if shape in ("vertical", "both") else 0, half if shape in ("horizontal", "both") else 0)


def shift_down(x: torch.Tensor, rows: int) -> torch.Tensor:
    """``x`` moved ``rows`` rows down (zeros enter at the top): row y then holds row y - rows."""
    return F.pad(x, (0, 0, rows, 0))[..., : x.shape[-2], :]


class _UpConv(nn.Conv2d):
    """A 3 x 3 convolution whose output at row y sees rows y-2..y only (zero padding above)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, kernel_size=3, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(F.pad(x, (1, 1, 2, 0))), inplace=True)


class HalfPlaneUNet(nn.Module):
    """A two-level U-Net whose output at (y, x) sees only rows y - ``shift`` - 46 to y - ``shift``.

    Widths ``width``, 1.5x and 2x per level. Every convolution looks up (:class:`_UpConv`); before a
    pooling the features move one row down, so a pooled cell holds no row below the finest row it
    serves after the nearest upsampling; the output moves ``shift`` rows down at the end (1: the
    row itself is hidden). Sides must be multiples of 4.
    """

    depth = 2
    # rows above an output pixel it sees beyond ``shift`` (columns beside it: 23), measured with impulses
    reach = 46

    def __init__(self, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        w1, w2, w3 = width, width * 3 // 2, width * 2
        self.down1 = nn.Sequential(_UpConv(in_channels, w1), _UpConv(w1, w1))
        self.down2 = nn.Sequential(_UpConv(w1, w2), _UpConv(w2, w2))
        self.middle = nn.Sequential(_UpConv(w2, w3), _UpConv(w3, w2))
        self.up2 = nn.Sequential(_UpConv(2 * w2, w2), _UpConv(w2, w1))
        self.up1 = nn.Sequential(_UpConv(2 * w1, w1), _UpConv(w1, w1))
        self.features = w1

    def forward(self, x: torch.Tensor, shift: int = 1) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(shift_down(d1, 1), 2))
        m = self.middle(F.max_pool2d(shift_down(d2, 1), 2))
        u2 = self.up2(torch.cat([F.interpolate(m, scale_factor=2.0, mode="nearest"), d2], dim=1))
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0, mode="nearest"), d1], dim=1))
        return shift_down(u1, shift)


def _count(net: nn.Module, name: str) -> int:
    """An integer attribute of a U-Net (``depth``, ``context``, ...)."""
    return int(getattr(net, name))


class BlindSpotStackNet(nn.Module):
    """Neighbour planes through ``neighbour_net``, plane i through a blind spot; see the module docstring.

    Parameters
    ----------
    neighbour_net : nn.Module
        A U-Net (``depth``, ``context``) from the neighbour planes (N channels) to 1 + ``features``
        output planes (an estimate of plane i, then features), without a residual.
    center : int
        Input channel of plane i (channel order of :mod:`noise2stack.data.sampler`: k = N // 2).
    residual_channels : sequence of int
        Input channels whose mean is added to the output (the innermost neighbours); never ``center``.
    shape, length : str, int
        The blind spot (:data:`SHAPES`; ``length`` odd, used by the line shapes).
    width : int
        Features of the blind-spot branch's finest level (per rotation).
    """

    pad_mode = "constant"  # see the module docstring: the tiler pads with zeros, not a reflection
    output_scale = 1
    joint_channels = 1

    def __init__(
        self,
        neighbour_net: nn.Module,
        center: int,
        residual_channels: Sequence[int] = (),
        out_channels: int = 1,
        shape: str = "pixel",
        length: int = 5,
        width: int = 8,
        features: int = 16,
    ) -> None:
        super().__init__()
        if center in residual_channels:
            raise Noise2StackError("the blind-spot centre plane cannot be a residual channel")
        self.neighbours = neighbour_net
        self.blind = HalfPlaneUNet(1, width)
        self.center = center
        self.residual_channels = list(residual_channels)
        self.in_channels = _count(neighbour_net, "in_channels") + 1
        self.out_channels = out_channels
        self.shape, self.length = shape, length
        reach_y, reach_x = line_reach(shape, length)
        self.shifts = (reach_y + 1, reach_x + 1)  # rows hidden by the up/down copies, columns by the left/right ones
        mixed = 1 + features + 4 * self.blind.features
        last = nn.Conv2d(2 * features, out_channels, 1)
        nn.init.zeros_(last.weight)  # see the module docstring: start as self mode
        nn.init.zeros_(last.bias)  # type: ignore[arg-type]  # a Conv2d built with a bias
        self.head = nn.Sequential(nn.Conv2d(mixed, 2 * features, 1), nn.ReLU(inplace=True), last)
        self.depth = max(_count(neighbour_net, "depth"), HalfPlaneUNet.depth)
        self.context = max(_count(neighbour_net, "context"), HalfPlaneUNet.reach + max(self.shifts))
        self.floats_per_pixel_train = _count(neighbour_net, "floats_per_pixel_train") + 4 * 14 * width
        self.floats_per_pixel_infer = _count(neighbour_net, "floats_per_pixel_infer") + 4 * 3 * width

    def blind_features(self, plane: torch.Tensor) -> torch.Tensor:
        """(B, 4 * width, Y, X) features of plane i (B, 1, Y, X) that never see a pixel's own value."""
        views = []
        for turns in (0, 2, 1, 3):  # the two copies of one orientation run as one batch
            views.append(torch.rot90(plane, turns, dims=(2, 3)))
        batch = plane.shape[0]
        up_down = self.blind(torch.cat(views[:2]), self.shifts[0])
        left_right = self.blind(torch.cat(views[2:]), self.shifts[1])
        turned = [up_down[:batch], up_down[batch:], left_right[:batch], left_right[batch:]]
        back = [torch.rot90(f, -turns, dims=(2, 3)) for f, turns in zip(turned, (0, 2, 1, 3))]
        return torch.cat(back, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N + 1, Y, X) -> (B, out_channels, Y, X): channel ``center`` is plane i."""
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        xp = F.pad(x, (0, (-width) % multiple, 0, (-height) % multiple))  # zeros: see the module docstring
        others = [c for c in range(xp.shape[1]) if c != self.center]
        neighbour = self.neighbours(xp[:, others])
        blind = self.blind_features(xp[:, self.center : self.center + 1])
        mixed = torch.cat([neighbour[:, :1], F.relu(neighbour[:, 1:]), blind.to(neighbour.dtype)], dim=1)
        out = (neighbour[:, :1] + self.head(mixed))[..., :height, :width]
        if self.residual_channels:
            out = out + x[:, self.residual_channels].mean(dim=1, keepdim=True)
        return out
