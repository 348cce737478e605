"""The Lightning module: a network, a method's loss, Adam with cosine decay (paper 000 §2.1.2)."""

from __future__ import annotations

import math

import lightning as L
import torch

from noise2stack.methods import Method


def cosine_lr_factor(step: int, total_steps: int, warmup_steps: int = 0, steps_per_epoch: int = 1) -> float:
    """Learning-rate factor at optimisation step ``step`` (0-based) of ``total_steps``.

    A linear warm-up over ``warmup_steps`` (from ``1 / (warmup_steps + 1)`` to 1), then a cosine from 1
    towards 0 at ``total_steps`` that steps once per epoch (paper 000 §2.1.2: "decreasing every epoch";
    the rate of an epoch is the cosine at its first step). A per-step cosine (1c8a0f3 to 3c2c071) cost
    0.2-1.5 dB at equal steps: fixed 2 x 40 steps, float32, seed 0, Tribolium self 4 31.12 against
    32.07 dB, Noise2Void 21.54 against 23.03, 5 x 40 steps self 4 33.29 against 33.50; MRI copy 1+4
    after post-processing 32.01 against 32.62 (issue 25). ``steps_per_epoch`` 1 gives the per-step cosine.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    epoch_start = max(step // max(steps_per_epoch, 1) * steps_per_epoch, warmup_steps)
    span = max(total_steps - warmup_steps, 1)
    return 0.5 * (1 + math.cos(math.pi * min(epoch_start - warmup_steps, span) / span))


class DenoiseModule(L.LightningModule):
    """Wraps a network and a method for Lightning.

    Parameters
    ----------
    net : torch.nn.Module
    method : Method
        Provides the loss.
    lr : float
        Adam's initial learning rate; follows :func:`cosine_lr_factor` (warm-up per step, cosine per epoch).
    epochs : int
        With ``steps_per_epoch``, the length of the schedule; may be re-fitted at any epoch start
        (:class:`~noise2stack.train.callbacks.FitEpochsToBudget`), the schedule reads it at every step.
    channels_last : bool
        Feed the network in channels_last layout.
    steps_per_epoch : int
    warmup_steps : int
    """

    def __init__(
        self,
        net: torch.nn.Module,
        method: Method,
        lr: float,
        epochs: int,
        channels_last: bool,
        steps_per_epoch: int = 1,
        warmup_steps: int = 0,
    ) -> None:
        super().__init__()
        self.net = net
        self.method = method
        self.lr = lr
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = warmup_steps
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub lacks it

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x, **kwargs)

    def _loss(self, batch) -> torch.Tensor:
        inputs, targets, masks = batch
        return self.method.training_loss(self, inputs, targets, masks)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch[0].shape[0])
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("val_loss", loss, prog_bar=True, on_epoch=True, batch_size=batch[0].shape[0])

    def lr_factor(self, step: int) -> float:
        return cosine_lr_factor(step, self.epochs * self.steps_per_epoch, self.warmup_steps, self.steps_per_epoch)

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # The rate is a pure function of the optimisation step, set before every step rather than
        # kept in a scheduler's state: a resumed run (global_step restored) gets exactly the rates
        # an uninterrupted run gets, wherever the checkpoint was taken, and a re-fitted epoch count
        # (FitEpochsToBudget) applies from the next step.
        rate = self.lr * self.lr_factor(self.trainer.global_step)
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = rate

    def on_train_start(self) -> None:
        # A checkpoint stores every tensor contiguous, and Adam's fused kernel walks a parameter and
        # its moments in memory order: moments restored in another layout than their channels_last
        # parameter would be paired with the wrong elements. Give them their parameter's layout.
        for optimizer in self.trainer.optimizers:
            for param, state in optimizer.state.items():
                for key, value in state.items():
                    if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                        state[key] = torch.empty_like(param).copy_(value)

    def configure_optimizers(self):
        params = list(self.net.parameters())
        # The fused kernel updates each tensor in one pass: 1.045x the float32 training step of the
        # per-tensor loop on a 2-core CPU (benchmarks/speed/results/training_levers.md); CPU and CUDA only.
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.Adam(params, lr=self.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, fused=fused)
