"""Progress a person or a pipeline can read: a bar on a terminal, one line per event in a log file.

Under a batch system stdout and stderr are files, and a progress bar's carriage-return updates fill
them with hundreds of partial lines. :class:`ProgressLog` decides once how to report:

* ``"bar"``: the interactive bars (tqdm/Lightning), for a terminal;
* ``"lines"``: one plain line on stderr per training epoch and per 10 % of a prediction;
* ``"quiet"``: nothing (errors are reported elsewhere).

Independently, ``json_path`` receives every event as one JSON object per line, flushed as it
happens: ``{"event": "epoch", "time": <unix s>, "epoch": 3, "epochs": 20, "train_loss": ...,
"val_loss": ..., "elapsed_s": ..., "left_s": ...}``; ``"predict"`` events carry ``planes_done``,
``planes``, ``percent``, ``elapsed_s``, ``left_s``; ``"train_end"`` and ``"predict_end"`` close a run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import IO

MODES = ("bar", "lines", "quiet")


def default_mode(quiet: bool = False) -> str:
    """``quiet`` if asked, the bar when both stdout and stderr are terminals, else plain lines."""
    if quiet:
        return "quiet"
    interactive = all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))
    return "bar" if interactive else "lines"


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(round(seconds)))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ProgressLog:
    """Where progress goes: see the module docstring.

    Parameters
    ----------
    mode : {"bar", "lines", "quiet"}
    json_path : path, optional
        JSON-lines file, appended to (opened at the first event, so nothing is written before
        the inputs are checked).
    stream : file, optional
        Where ``"lines"`` go (default: stderr).
    """

    def __init__(
        self, mode: str = "bar", json_path: str | os.PathLike | None = None, stream: IO[str] | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.json_path = Path(json_path) if json_path is not None else None
        self.stream = stream
        self._json: IO[str] | None = None
        self._predict_start: float | None = None
        self._next_percent = 10

    @property
    def bar(self) -> bool:
        """Whether interactive progress bars should be drawn."""
        return self.mode == "bar"

    def event(self, name: str, line: str | None = None, **fields) -> None:
        """Record one event: a JSON line (if a file was given) and, in ``"lines"`` mode, ``line``."""
        if self.json_path is not None:
            if self._json is None:
                self._json = open(self.json_path, "a", encoding="utf-8")
            record = {"event": name, "time": round(time.time(), 3), **{k: _json_value(v) for k, v in fields.items()}}
            self._json.write(json.dumps(record, allow_nan=False) + "\n")
            self._json.flush()
        if self.mode == "lines" and line is not None:
            stream = self.stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()

    def epoch(
        self, epoch: int, epochs: int, train_loss: float, val_loss: float, elapsed_s: float, left_s: float | None
    ) -> None:
        """One finished training epoch (``epoch`` counts from 1)."""
        val = "n/a" if not math.isfinite(val_loss) else f"{val_loss:.5g}"
        self.event(
            "epoch",
            f"epoch {epoch}/{epochs}  loss {train_loss:.5g}  val_loss {val}  elapsed {_clock(elapsed_s)}  left {_clock(left_s)}",
            epoch=epoch,
            epochs=epochs,
            train_loss=float(train_loss),
            val_loss=float(val_loss),
            elapsed_s=round(elapsed_s, 3),
            left_s=None if left_s is None else round(left_s, 3),
        )

    def predict_start(self) -> None:
        """A prediction begins: times and 10 % steps count from here."""
        self._predict_start, self._next_percent = time.monotonic(), 10

    def on_plane(self, done: int, total: int) -> None:
        """Prediction progress: ``done`` of ``total`` planes finished; reports every 10 %."""
        now = time.monotonic()
        if self._predict_start is None:  # the first plane of a prediction
            self._predict_start, self._next_percent = now, 10
        percent = 100 * done / max(total, 1)
        if percent + 1e-9 < self._next_percent and done < total:
            return
        while self._next_percent <= percent + 1e-9:
            self._next_percent += 10
        elapsed = now - self._predict_start
        left = elapsed / done * (total - done) if done else None
        self.event(
            "predict",
            f"denoising: {done}/{total} planes ({percent:.0f} %)  elapsed {_clock(elapsed)}  left {_clock(left)}",
            planes_done=done,
            planes=total,
            percent=round(percent, 1),
            elapsed_s=round(elapsed, 3),
            left_s=None if left is None else round(left, 3),
        )

    def predict_end(self, seconds: float, out: str | None) -> None:
        """A prediction finished (the next :meth:`on_plane` starts a new one)."""
        self._predict_start = None
        self.event("predict_end", None, seconds=round(seconds, 3), out=out)

    def close(self) -> None:
        if self._json is not None:
            self._json.close()
            self._json = None


def as_progress_log(progress: bool | ProgressLog) -> ProgressLog:
    """The API's ``progress`` argument as a :class:`ProgressLog` (True: bar, False: quiet)."""
    if isinstance(progress, ProgressLog):
        return progress
    return ProgressLog("bar" if progress else "quiet")
