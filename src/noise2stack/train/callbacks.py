"""Lightning callbacks: the model folder (best/last weights, CSV log) and the progress bar."""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from noise2stack.io.atomic import write_text
from noise2stack.model import CHECKPOINT_FILE, LAST_WEIGHTS_FILE, LOG_FILE, WEIGHTS_FILE, save_weights
from noise2stack.train.batches import EpochStepSampler

LOG_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "lr", "seconds")


def _format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


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
        self.epoch_lr: float | None = None
        self.seconds_before = 0.0  # training time of earlier runs this one resumes

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.monotonic() - self.seconds_before

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        # the rate of this epoch's first step (set per step by the module, from the step alone)
        self.epoch_lr = pl_module.lr * pl_module.lr_factor(trainer.global_step)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        train_loss = float(metrics.get("loss_epoch", math.nan))
        val_loss = float(metrics["val_loss"]) if "val_loss" in metrics else math.nan
        lr = self.epoch_lr if self.epoch_lr is not None else trainer.optimizers[0].param_groups[0]["lr"]
        self.epoch_lr = None
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
        score = val_loss if not math.isnan(val_loss) else train_loss
        improved = score < self.best_loss
        if improved:
            self.best_loss, self.best_epoch = score, trainer.current_epoch
        if not trainer.is_global_zero:  # DDP: the weights are the same on every rank; rank 0 writes
            return
        save_weights(pl_module.net, self.folder / LAST_WEIGHTS_FILE)
        if improved:
            save_weights(pl_module.net, self.folder / WEIGHTS_FILE)
        self.write_log()

    def state_dict(self) -> dict:
        return {
            "rows": self.rows,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "epoch_lr": self.epoch_lr,
            "seconds": time.monotonic() - self.start,
        }

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state["rows"])
        self.best_loss = float(state["best_loss"])
        self.best_epoch = state["best_epoch"]
        self.epoch_lr = state["epoch_lr"]
        self.seconds_before = float(state["seconds"])

    def write_log(self) -> None:
        lines = [",".join(LOG_COLUMNS)]
        # floats at full precision (repr round-trips): the log is read back by tests and tools
        lines += [
            ",".join(repr(row[c]) if isinstance(row[c], float) else str(row[c]) for c in LOG_COLUMNS)
            for row in self.rows
        ]
        write_text(self.folder / LOG_FILE, "\n".join(lines) + "\n")


class CheckpointCallback(L.Callback):
    """Write the resumable training state at every epoch end, every ``every_seconds``, and on a signal.

    SIGINT and SIGTERM do not kill training: they ask it to stop after the current step, which
    writes a checkpoint first (a second SIGINT interrupts at once). The checkpoint records where
    in the epoch training stood, so that :class:`EpochStepSampler` resumes at exactly that batch.
    """

    def __init__(self, folder: Path, sampler: EpochStepSampler, every_seconds: float) -> None:
        self.path = Path(folder) / CHECKPOINT_FILE
        self.sampler = sampler
        self.every_seconds = every_seconds
        self.position = (0, 0)
        self.last_save = time.monotonic()
        self.stop_signal: int | None = None
        self._previous: dict = {}

    def _save(self, trainer) -> None:
        trainer.save_checkpoint(self.path)
        self.last_save = time.monotonic()

    def _on_signal(self, signum, frame) -> None:
        self.stop_signal = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once

    def on_train_start(self, trainer, pl_module) -> None:
        self.last_save = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def _restore_handlers(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._restore_handlers()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            # the epoch-end checkpoint follows; Lightning skips an epoch when resuming from a
            # checkpoint taken at this moment
            return
        due = time.monotonic() - self.last_save >= self.every_seconds
        if self.stop_signal is not None or due:
            self.position = (trainer.current_epoch, batch_idx + 1)
            self._save(trainer)
        if self.stop_signal is not None:
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.position = (trainer.current_epoch + 1, 0)
        self._save(trainer)
        if self.stop_signal is not None:
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"position": list(self.position)}

    def load_state_dict(self, state: dict) -> None:
        epoch, step = (int(v) for v in state["position"])
        self.position = (epoch, step)
        self.sampler.resume_at = (epoch, step)


class FitEpochsToBudget(L.Callback):
    """Keep the number of epochs fitted to a wall-clock budget from timed epochs.

    The estimate made before training times bare optimisation steps; it misses data drawing,
    masking, validation, saving and the CPU's warm-up, and has been 2x off (Noise2Void on cells3d
    used 138 of 300 s). The cosine schedule only ends at the last epoch, so a wrong count either
    wastes budget or cuts training before the learning rate has decayed. At the start of every
    epoch after the first, the count is re-fitted to the time left and the duration of the epoch
    just finished (validation and saving included; the first epoch also carries the warm-up,
    so the latest one is the better guess). The learning rate of the starting epoch then follows
    the new schedule, and ``on_refit(epochs)`` records the count (the model folder's config, so
    that a resumed run keeps it).
    """

    clock = staticmethod(time.monotonic)  # seconds; tests replace it with a fake clock

    def __init__(self, max_time: float, on_refit, share: float = 0.96) -> None:
        self.max_time = max_time
        self.on_refit = on_refit
        self.share = share
        self.start = self.epoch_start = self.clock()

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = self.clock()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        now = self.clock()
        epoch, last_epoch_seconds = trainer.current_epoch, max(now - self.epoch_start, 1e-6)
        self.epoch_start = now
        if epoch == 0:
            return
        left = self.share * self.max_time - (now - self.start)
        epochs = epoch + max(1, int(left / last_epoch_seconds))  # the epoch starting now always runs
        if epochs == pl_module.epochs:
            return
        trainer.fit_loop.max_epochs = epochs
        pl_module.epochs = epochs
        # the module computes each step's rate from pl_module.epochs: nothing else to update
        for callback in trainer.callbacks:
            if isinstance(callback, BudgetProgressBar):
                callback.total_steps = epochs * trainer.num_training_batches
        self.on_refit(epochs)


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


class EpochLogCallback(L.Callback):
    """One :meth:`ProgressLog.epoch` event per finished epoch, from the model folder's log row.

    Must come after ``folder`` in the callback list (it reads the row ``folder`` just wrote). The
    time left is the budget's (``max_time``) or, without one, the mean epoch time times the epochs
    still to run (the count :class:`FitEpochsToBudget` may have re-fitted).
    """

    def __init__(self, log, folder: ModelFolderCallback, max_time: float | None) -> None:
        self.progress_log = log
        self.folder = folder
        self.max_time = max_time

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self.folder.rows:
            return
        row = self.folder.rows[-1]
        epoch, epochs = row["epoch"] + 1, int(trainer.max_epochs or row["epoch"] + 1)
        elapsed = float(row["seconds"])
        left = elapsed / epoch * max(epochs - epoch, 0)
        if self.max_time is not None:
            left = min(left, max(self.max_time - elapsed, 0.0))
        self.progress_log.epoch(epoch, epochs, row["train_loss"], row["val_loss"], elapsed, left)
