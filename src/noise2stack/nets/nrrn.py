"""The Noise Reconstruction & Removal Network (NRRN, paper 003 §2.1.1, eq. 1 and Figure 1).

Input (N, 3, H, W): the planes ``[x_{j-1}, x_j, x_{j+1}]`` in the channel order of
:mod:`noise2stack.data.sampler` (``neighbors=2, include_center=True``). One branch maps a pair
(adjacent plane ``x_{j±1}``, plane ``x_j``) to a denoised ``x_j``; the network runs the same branch
(one parameter set) on ``(x_{j-1}, x_j)`` and ``(x_{j+1}, x_j)`` and returns the mean of the two
outputs (§2.1.2: x̂_j = (x'_j + x''_j) / 2), or both with ``return_branches=True`` for the
consensus loss.

One branch, with ``U = units`` building units (BU, ``L + 1`` in the paper) and F = 64 features::

    h̃⁰ = ReLU(W0 * x_{j±1}),  ĥ⁰ = ReLU(W0 * x_j),  x'⁻¹ = x_j
    for l = 0 .. U-1:
        h̃ˡ⁺¹ = tanh(W1 * h̃ˡ)                                    W1 shared by all units
        uˡ = σ(Wu * ĥˡ + Vu * h̃ˡ⁺¹),  rˡ = σ(Wr * ĥˡ + Vr * h̃ˡ⁺¹)
        cˡ = tanh(Wc * ĥˡ + Vc * (rˡ ∘ h̃ˡ⁺¹))
        ĥˡ⁺¹ = (1 - uˡ) ∘ h̃ˡ⁺¹ + uˡ ∘ cˡ                          (eq. 1)
        nˡ = max_channels(ĥˡ⁺¹) ∘ ĥˡ⁺¹[channel 0]                  noise attention (Fig. 1E)
        x'ˡ = x'ˡ⁻¹ - nˡ                                          the running image
        ĥˡ⁺¹[channel 0] = Fbˡ * [x'ˡ, ĥˡ⁺¹[channel 0]]             feedback (Fig. 1D)
    output = x'ᵁ⁻¹ + Wf * ĥᵁ

All convolutions are 3×3 with zero padding and biases; ``W * a + V * b`` is computed as one
convolution over the channel concatenation ``[a, b]`` (the same function).

Where the paper is ambiguous, this module chooses:

* W0 is one convolution applied to both images of a pair (eq. 1 writes the same W0 for both).
* Wu, Vu, Wr, Vr, Wc, Vc and the feedback convolution are separate per unit; only W1 is shared
  (the paper says so for W1 alone).
* ``r ∘ h̃ * Vc`` is read GRU-style as ``Vc * (r ∘ h̃)``.
* The noise estimate of unit l is subtracted from the running image, starting from x_j; the
  estimate after unit l (``predict --save-units``) is x'ˡ.
* The feedback block is one 3×3 convolution (2 -> 1 channel, linear) over the updated image and
  the first feature channel; its output replaces that channel (Fig. 1D: "the first channel of the
  synthesizer output is updated by the Feedback block").
* The final layer: the paper lists "3×3 kernel, 64 channels, ReLU", which cannot be an image; here
  it is a linear 3×3 convolution 64 -> 1 whose output corrects the last running image, so that the
  output can take negative normalised values.

Inference with fewer images (§2.2.2 remark): two images = the one branch on (x_{j-1}, x_j); one
image = the branch on (x_j, x_j), the plane standing in for its own neighbour.

No pooling (``depth = 0``). ``context`` (the radius beyond which an input pixel cannot change an
output pixel) is ``3 * units + 3``: W0 1 pixel; per unit, the ĥ path grows by 2 (gate, then the
candidate's convolution of ``r ∘ h̃``) plus 1 for the feedback; the final convolution 1. Measured
with impulses in ``tests/nets/test_nrrn.py``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from noise2stack.errors import Noise2StackError


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, padding=1)


class NRRN(nn.Module):
    """Two-branch NRRN with shared weights. See the module docstring for the equations."""

    depth = 0
    features = 64
    floats_per_pixel_train = 2 * 64 * 14  # two branches, ~14 feature maps of 64 per unit kept (rough)
    floats_per_pixel_infer = 2 * 64 * 6

    def __init__(self, in_channels: int, residual_channels: Sequence[int] = (), units: int = 4) -> None:
        super().__init__()
        if in_channels != 3:
            raise Noise2StackError(f"net nrrn takes the 3 planes [j-1, j, j+1], not {in_channels}; use `method` nrrn")
        if residual_channels:
            raise Noise2StackError("net nrrn has its own residual path; use `residual=False`")
        if units < 1:
            raise Noise2StackError(f"NRRN needs at least one building unit, got {units}")
        f = self.features
        self.in_channels = in_channels
        self.residual_channels: list[int] = []
        self.units = units
        self.context = 3 * units + 3
        self.floats_per_pixel_train = self.floats_per_pixel_train * units
        self.w0 = _conv(1, f)
        self.w1 = _conv(f, f)  # shared across all building units (eq. 1)
        self.gates = nn.ModuleList([_conv(2 * f, 2 * f) for _ in range(units)])  # [u, r] from [ĥ, h̃]
        self.candidate = nn.ModuleList([_conv(2 * f, f) for _ in range(units)])  # c from [ĥ, r∘h̃]
        self.feedback = nn.ModuleList([_conv(2, 1) for _ in range(units)])
        self.final = _conv(f, 1)

    def branch(
        self, adjacent: torch.Tensor, image: torch.Tensor, trace: list | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One branch on (N, 1, H, W) pairs: the output and the running image after every unit.

        ``trace``, a list, receives per unit ``{"attention": max_channels(ĥ), "noise": n}`` (N, 1, H, W)
        (Fig. 1E), for pictures of what each unit removes."""
        h_tilde = torch.relu(self.w0(adjacent))
        h_hat = torch.relu(self.w0(image))
        running = image
        estimates = []
        for gates, candidate, feedback in zip(self.gates, self.candidate, self.feedback):
            h_tilde = torch.tanh(self.w1(h_tilde))
            update, reset = torch.sigmoid(gates(torch.cat([h_hat, h_tilde], dim=1))).chunk(2, dim=1)
            c = torch.tanh(candidate(torch.cat([h_hat, reset * h_tilde], dim=1)))
            h_hat = (1 - update) * h_tilde + update * c
            attention = h_hat.amax(dim=1, keepdim=True)
            noise = attention * h_hat[:, :1]
            if trace is not None:
                trace.append({"attention": attention, "noise": noise})
            running = running - noise
            estimates.append(running)
            first = feedback(torch.cat([running, h_hat[:, :1]], dim=1))
            h_hat = torch.cat([first, h_hat[:, 1:]], dim=1)
        return running + self.final(h_hat), estimates

    def _pairs(self, x: torch.Tensor, images: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(adjacent, image) batches for 3, 2 or 1 input images; both branches in one batch."""
        below, centre, above = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        if images == 3:
            return torch.cat([below, above]), torch.cat([centre, centre])
        if images == 2:
            return below, centre
        if images == 1:
            return centre, centre
        raise Noise2StackError(f"NRRN infers from 1, 2 or 3 images, not {images}")

    def run(self, x: torch.Tensor, images: int = 3, unit: int | None = None) -> torch.Tensor:
        """Output (N, 1, H, W) from ``images`` input planes; with ``unit`` (1-based) the running image
        after that building unit instead. Two branches are averaged."""
        adjacent, image = self._pairs(x, images)
        out, estimates = self.branch(adjacent, image)
        if unit is not None:
            if not 1 <= unit <= self.units:
                raise Noise2StackError(f"unit {unit} outside 1..{self.units}")
            out = estimates[unit - 1]
        if images == 3:
            first, second = out.chunk(2)
            out = (first + second) / 2
        return out

    def forward(self, x: torch.Tensor, return_branches: bool = False):
        """(N, 3, H, W) -> (N, 1, H, W), the mean of the two branches; or the pair (x'_j, x''_j)
        from (x_{j-1}, x_j) and (x_{j+1}, x_j) with ``return_branches``."""
        if return_branches:
            adjacent, image = self._pairs(x, 3)
            out, _ = self.branch(adjacent, image)
            return tuple(out.chunk(2))
        return self.run(x)


class NRRNView(nn.Module):
    """A prediction view: the tiler calls it like a one-output network."""

    def __init__(self, net: NRRN, images: int = 3, unit: int | None = None) -> None:
        super().__init__()
        self.net = net
        self.images, self.unit = images, unit
        self.depth, self.context, self.in_channels = net.depth, net.context, net.in_channels
        self.floats_per_pixel_train = net.floats_per_pixel_train
        self.floats_per_pixel_infer = net.floats_per_pixel_infer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.run(x, self.images, self.unit)
