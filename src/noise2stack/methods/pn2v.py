"""Probabilistic Noise2Void (paper 004) and a probabilistic Noise2Stack.

Both predict, for every pixel, ``K`` samples ``s_k`` of the signal's prior (the network's
``K = algorithm.samples`` output channels) and train with eq. 7 against the observed value ``x``
of plane i through a histogram noise model p(x | s) (:mod:`noise2stack.noise.histogram`)::

    loss = mean over the loss pixels of  -log( 1/K * sum_k p(x | s_k) )

computed as ``log K - logsumexp_k log p(x | s_k)`` with p floored at a tiny density, so it is
finite even when every sample is far from the observation (004 §4.2 discusses that case). At
prediction the MMSE estimate (eq. 11) weights the samples by p(x | s_k) with the observed x; the
weighted standard deviation of the samples is the posterior uncertainty.

* ``pn2v``: blind-spot input exactly as ``n2v`` (:func:`noise2stack.data.blindspot.mask_patch`),
  loss on the masked pixels; the observation is the input plane itself.
* ``pn2stack``: input = the N neighbours exactly as ``n2stack --mode self`` (plane i is never an
  input, so no blind spot is needed and every pixel is a loss pixel); the observation is plane i.

Units: the noise model is made in raw data units; the network works in normalised units
``u = (v - low_value) * scale + out_low``. :meth:`bind` maps the histogram's axes with the same
affine map once (exact, both axes are linear in the data), so loss and MMSE run in network units;
the posterior std comes back to raw units by dividing by ``scale``. A per-pixel background
subtraction would make that map differ per pixel, so ``--background`` is refused here.

K: the paper uses 800 on a GPU. On CPU the output head and the loss grow linearly with K. Measured
(Table S1 net, batch 16 of 64x64 patches, one CPU thread, forward + loss + backward + Adam):
one output 0.57 s, K = 64 1.05 s (1.8x), K = 800 17.8 s (31x). So the default K = 64 costs under
twice an N2V step, and 64 samples still resolve a posterior whose likelihood spans a few samples.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from noise2stack.config_sections import AlgorithmConfig, BlindSpotFields, NoiseModelFields
from noise2stack.data.sampler import check_neighbors
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, Method, TargetKind, register
from noise2stack.methods.n2v import mask
from noise2stack.noise.histogram import HistogramNoiseModel

if TYPE_CHECKING:
    from noise2stack.config import TrainConfig


class PN2VConfig(AlgorithmConfig, NoiseModelFields, BlindSpotFields):
    """Probabilistic Noise2Void: Noise2Void's blind spot, ``samples`` per pixel through ``noise_model``."""

    method: Literal["pn2v"] = "pn2v"
    neighbors: int = 0
    residual: bool = False


class PN2StackConfig(AlgorithmConfig, NoiseModelFields):
    """Probabilistic Noise2Stack: self mode's neighbours, ``samples`` per pixel through ``noise_model``."""

    method: Literal["pn2stack"] = "pn2stack"
    # residual on: every sample starts at the mean of the two innermost neighbours, the
    # Noise2Stack prediction, so the prior is centred where the signal is from the first step
    residual: bool = True


def pn2v_loss(log_likelihood: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7 from per-sample log-likelihoods ``log p(x | s_k)`` of shape (B, K, Y, X).

    Returns the mean over pixels (weighted by ``mask`` of shape (B, 1, Y, X) when given) of
    ``-log mean_k p(x | s_k)``.
    """
    k = log_likelihood.shape[1]
    per_pixel = math.log(k) - torch.logsumexp(log_likelihood, dim=1, keepdim=True)
    if mask is None:
        return per_pixel.mean()
    return torch.sum(mask * per_pixel) / mask.sum().clamp_min(1)


def posterior(samples: torch.Tensor, log_likelihood: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MMSE estimate (eq. 11) and posterior std from samples (B, K, Y, X) and their log p(x | s_k).

    Returns two tensors of shape (B, Y, X): ``sum_k w_k s_k`` and ``sqrt(sum_k w_k (s_k - mmse)^2)``
    with ``w = softmax_k log p(x | s_k)``.
    """
    weights = torch.softmax(log_likelihood, dim=1)
    mmse = torch.sum(weights * samples, dim=1)
    variance = torch.sum(weights * (samples - mmse[:, None]) ** 2, dim=1)
    return mmse, torch.sqrt(variance.clamp_min(0))


class _Probabilistic(Method):
    capabilities = Capabilities(
        needs_noise_model=True, chunkable=False, joint_channels=False, uncertainty=True, view_options=("estimate",)
    )
    noise_model = None  # HistogramNoiseModel in network units; set on the copy bind() returns

    def out_channels(self, config: TrainConfig) -> int:
        return config.algorithm.samples

    def check(self, config: TrainConfig) -> None:
        if not config.algorithm.noise_model:
            raise Noise2StackError(
                f"`method` {config.method} needs `noise_model` FILE (make one with `noise2stack noise-model`)"
            )
        if config.data.background:
            raise Noise2StackError(f"`method` {config.method} cannot use `background`: the noise model is in raw units")
        if config.algorithm.loss != "mse":
            raise Noise2StackError(
                f"`method` {config.method} trains on the noise model's likelihood; `loss` does not apply"
            )

    def load_noise_model(self, config: TrainConfig) -> HistogramNoiseModel:
        return HistogramNoiseModel.load(config.algorithm.noise_model)

    def prepare_stacks(self, config: TrainConfig, noise_model, stacks: list, what: str) -> list:
        return prepare_stacks(noise_model, stacks, config.algorithm.clip, what)

    def bind(self, config: TrainConfig, normalizer, noise_model=None) -> Method:
        if noise_model is None:
            return self
        bound = copy.copy(self)
        bound.noise_model = noise_model.rescaled(normalizer.low_value, normalizer.scale, normalizer.out_low)
        return bound

    def _model(self):
        if self.noise_model is None:
            raise RuntimeError("a probabilistic method was used without bind(config, normalizer, noise_model)")
        return self.noise_model

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return pn2v_loss(self._model().log_likelihood(target, prediction))
        # Only the masked pixels count (5 % of a patch in pn2v): look their K samples up alone, not the
        # whole (B, K, Y, X) output: the same loss, 1.7x faster a step (batch 16 of 64², K = 64, bf16).
        picked = mask[:, 0] > 0  # (B, Y, X)
        return self.loss_at(prediction.permute(0, 2, 3, 1)[picked], target, mask, picked)

    def loss_at(
        self, samples: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, picked: torch.Tensor
    ) -> torch.Tensor:
        """Eq. 7 from the (M, K) samples at the M true pixels of ``picked`` (B, Y, X), in ``nonzero``
        order; ``target`` and ``mask`` (B, 1, Y, X) give each pixel's observation and weight."""
        observed = target[:, 0][picked][:, None]  # (M, 1)
        weights = mask[:, 0][picked][:, None]  # (M, 1)
        log_likelihood = self._model().log_likelihood(observed, samples)
        return pn2v_loss(log_likelihood[:, :, None, None], weights[:, :, None, None])

    def finish(self, net_output: torch.Tensor, observation: torch.Tensor, estimate: str = "mmse") -> torch.Tensor:
        """(B, K, Y, X) samples and (B, 1, Y, X) observation -> (B, 2, Y, X): the MMSE estimate and the
        posterior std, or with ``estimate="prior-mean"`` the samples' mean and their std (the prior's)."""
        samples = net_output.float()
        if estimate == "prior-mean":
            return torch.stack([samples.mean(dim=1), samples.std(dim=1, correction=0)], dim=1)
        log_p = self._model().log_likelihood(observation.to(samples.device), samples)
        mmse, std = posterior(samples, log_p)
        return torch.stack([mmse, std], dim=1)

    def prediction_head(self, config: TrainConfig, estimate: str | None = None, **view):
        return functools.partial(self.finish, estimate=_estimate(estimate))

    def prediction_net(self, net, config: TrainConfig, estimate: str | None = None, **view):
        _estimate(estimate)
        return super().prediction_net(net, config, **view)


@register
class ProbabilisticNoise2Void(_Probabilistic):
    name = "pn2v"
    capabilities = dataclasses.replace(_Probabilistic.capabilities, needs_stack=False)
    config_class = PN2VConfig

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        if config.algorithm.neighbors != 0:
            raise Noise2StackError("`method` pn2v sees one plane; `neighbors` must be 0")

    def transform(self, inputs: np.ndarray, target: np.ndarray, rng: np.random.Generator, config: TrainConfig):
        masked, loss_mask = mask(inputs, rng, config)
        return masked, target, loss_mask

    def training_loss(self, forward, inputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Eq. 7 over the masked pixels, with the network's K samples computed at those pixels alone.

        The U-Nets' ``at`` skips the full-size K-channel head (5 % of the pixels carry the loss):
        the whole package step 1.08x faster (77 -> 72 ms, K = 64, batch 16 of 64², bf16, 2 cores;
        ``benchmarks/speed/results/pn2v_step.md``), the same loss to float rounding.
        """
        picked = masks[:, 0] > 0  # (B, Y, X)
        return self.loss_at(forward(inputs, at=picked).float(), targets, masks, picked)


@register
class ProbabilisticNoise2Stack(_Probabilistic):
    name = "pn2stack"
    capabilities = dataclasses.replace(_Probabilistic.capabilities, neighbor_choice=True)
    config_class = PN2StackConfig

    def include_center(self, config: TrainConfig) -> bool:
        return False

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def check(self, config: TrainConfig) -> None:
        super().check(config)
        if config.algorithm.mode != "self":
            raise Noise2StackError("`method` pn2stack is self mode: plane i is the observation, never an input")
        check_neighbors(config.algorithm.neighbors, include_center=False)


ESTIMATES = ("mmse", "prior-mean")


def _estimate(estimate: str | None) -> str:
    """The prediction's ``estimate``, checked (default: MMSE, paper 004 eq. 11)."""
    if estimate is None:
        return "mmse"
    if estimate not in ESTIMATES:
        raise Noise2StackError(f"`estimate` must be {' or '.join(ESTIMATES)}, got {estimate!r}")
    return estimate


def prepare_stacks(noise_model, stacks: list[np.ndarray], clip: bool, what: str = "the data") -> list[np.ndarray]:
    """Stacks checked against (or, with ``clip``, clipped into) the noise model's range (raw units)."""
    if clip:
        return [np.clip(s, noise_model.low, noise_model.high) for s in stacks]
    low = min(float(np.min(s)) for s in stacks)
    high = max(float(np.max(s)) for s in stacks)
    noise_model.check_covers(low, high, what)
    return list(stacks)
