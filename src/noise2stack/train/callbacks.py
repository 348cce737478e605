"""Lightning callbacks: the model folder (best/last weights, CSV log) and the progress bar."""

from __future__ import annotations

import math
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from noise2stack.io.atomic import write_text
from noise2stack.model import LAST_WEIGHTS_FILE, LOG_FILE, WEIGHTS_FILE, save_weights

LOG_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "lr", "seconds")


def _format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class ModelFolderCallback(L.Callback):
    """After every epoch: write ``last.safetensors``, the best weights so far, and the CSV log.

    The best epoch is the one with the lowest validation loss (training loss when there is no
    validation set).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.rows: list[dict] = []
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.start = time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.monotonic()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch_lr = trainer.optimizers[0].param_groups[0]["lr"]  # the scheduler steps before epoch end

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        train_loss = float(metrics.get("loss_epoch", math.nan))
        val_loss = float(metrics["val_loss"]) if "val_loss" in metrics else math.nan
        lr = getattr(self, "epoch_lr", trainer.optimizers[0].param_groups[0]["lr"])
        self.rows.append(
            {
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": lr,
                "seconds": round(time.monotonic() - self.start, 3),
            }
        )
        save_weights(pl_module.net, self.folder / LAST_WEIGHTS_FILE)
        score = val_loss if not math.isnan(val_loss) else train_loss
        if score < self.best_loss:
            self.best_loss, self.best_epoch = score, trainer.current_epoch
            save_weights(pl_module.net, self.folder / WEIGHTS_FILE)
        self.write_log()

    def write_log(self) -> None:
        lines = [",".join(LOG_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]) for c in LOG_COLUMNS) for row in self.rows]
        write_text(self.folder / LOG_FILE, "\n".join(lines) + "\n")


class BudgetProgressBar(TQDMProgressBar):
    """Lightning's bar plus the time left for the whole run (``left``)."""

    def __init__(self, total_steps: int, max_time: float | None) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.max_time = max_time
        self.start = time.monotonic()

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self.start = time.monotonic()

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        elapsed = time.monotonic() - self.start
        done = max(trainer.global_step, 1)
        left = elapsed / done * max(self.total_steps - done, 0)
        if self.max_time is not None:
            left = min(left, max(self.max_time - elapsed, 0))
        items["left"] = _format_seconds(left)
        return items
