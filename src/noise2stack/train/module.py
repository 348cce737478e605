"""The Lightning module: a network, a method's loss, Adam with cosine decay (paper 000 §2.1.2)."""

from __future__ import annotations

import math

import lightning as L
import torch

from noise2stack.methods import Method


class DenoiseModule(L.LightningModule):
    """Wraps a network and a method for Lightning.

    Parameters
    ----------
    net : torch.nn.Module
    method : Method
        Provides the loss.
    lr : float
        Adam's initial learning rate; decays per epoch on a cosine to 0 at ``epochs``.
    epochs : int
    channels_last : bool
        Feed the network in channels_last layout.
    """

    def __init__(self, net: torch.nn.Module, method: Method, lr: float, epochs: int, channels_last: bool) -> None:
        super().__init__()
        self.net = net
        self.method = method
        self.lr = lr
        self.epochs = epochs
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

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

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
        # reads self.epochs at every step: FitEpochsToBudget may re-fit it at any epoch start
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 0.5 * (1 + math.cos(math.pi * min(epoch, self.epochs) / self.epochs))
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}
