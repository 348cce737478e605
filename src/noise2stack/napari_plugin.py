"""napari plugin (manifest ``napari.yaml``; ``pip install 'noise2stack[napari]'``).

* a reader for the stacks noise2stack reads (TIFF, .npy, NIfTI);
* **Train and denoise**: pick an image layer, a method, neighbours and a time budget; training runs
  as a ``noise2stack train`` child process (so the viewer never freezes and Cancel can stop it with
  SIGTERM, which training answers by keeping its best weights), its JSON-lines log drives the
  progress bar, and the denoised stack is added as a new layer;
* **Denoise with a trained model**: apply a model folder to a layer.

Only this module imports napari and Qt; nothing else in the package depends on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from noise2stack import api
from noise2stack.errors import Noise2StackError
from noise2stack.io.stacks import read_array
from noise2stack.methods import get_method
from noise2stack.methods.advice import self_supervised, self_supervised_modes

if TYPE_CHECKING:
    from napari.qt.threading import FunctionWorker, GeneratorWorker

READABLE = (".tif", ".tiff", ".npy", ".nii", ".nii.gz")


def get_reader(path):
    """napari reader hook: a function returning ``[(data, {"name": ...}, "image")]``, or None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not str(path).lower().endswith(READABLE):
        return None

    def read(p):

        p = p[0] if isinstance(p, list) else p
        name = Path(p).name
        return [(read_array(p), {"name": name.split(".")[0]}, "image")]

    return read


def _image_layers(viewer) -> list:
    import napari.layers

    return [layer for layer in viewer.layers if isinstance(layer, napari.layers.Image)]


class _LayerPicker(QComboBox):
    """The viewer's image layers, kept up to date."""

    def __init__(self, viewer) -> None:
        super().__init__()
        self.viewer = viewer
        viewer.layers.events.inserted.connect(self.refresh)
        viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    def refresh(self, *_) -> None:
        current = self.currentText()
        self.clear()
        self.addItems([layer.name for layer in _image_layers(self.viewer)])
        if current:
            self.setCurrentText(current)

    def layer(self):
        name = self.currentText()
        if not name or name not in self.viewer.layers:
            return None
        return self.viewer.layers[name]


def _denoise_in_thread(widget, model_dir: Path, layer):
    """Predict in a napari thread worker and add the result as ``<layer> denoised``."""
    from napari.qt.threading import thread_worker

    data = np.asarray(layer.data)
    axes = "YX" if data.ndim == 2 else "ZYX"

    @thread_worker
    def work():
        return api.predict(model_dir, data, axes=axes, progress=False)

    worker = work()
    worker.returned.connect(lambda result: widget._done(result.reshape(data.shape), layer))
    worker.errored.connect(widget._failed)
    worker.start()
    return worker


class TrainWidget(QWidget):
    """Pick a layer, method, mode, neighbours and budget; train with progress and Cancel; add the denoised layer."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()

        self.viewer = napari_viewer
        self.layers = _LayerPicker(napari_viewer)
        self.method = QComboBox()
        self.method.addItems(self_supervised())  # a layer is one noisy stack: no copy, clean stack or noise model
        self.neighbors = QSpinBox()
        self.neighbors.setRange(2, 16)
        self.neighbors.setSingleStep(2)
        self.neighbors.setValue(4)
        self.mode = QComboBox()  # self, blindspot: the modes that need no second stack
        self.method.currentTextChanged.connect(self._method_chosen)
        self._method_chosen(self.method.currentText())
        self.budget = QDoubleSpinBox()
        self.budget.setRange(5, 24 * 3600)
        self.budget.setValue(120)
        self.budget.setSuffix(" s")
        self.folder = QLineEdit(str(Path(tempfile.gettempdir()) / "noise2stack_models"))
        self.train_button = QPushButton("Train and denoise")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.extra_options: list[str] = []  # more `noise2stack train` options (tests keep training tiny)

        form = QFormLayout()
        form.addRow("image layer", self.layers)
        form.addRow("method", self.method)
        form.addRow("mode", self.mode)
        form.addRow("neighbours", self.neighbors)
        form.addRow("time budget", self.budget)
        form.addRow("models folder", self.folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch()
        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.worker: GeneratorWorker | FunctionWorker | None = None  # training, then denoising
        self.process: subprocess.Popen | None = None
        self.model_dir: Path | None = None
        self.cancelled = False

    def _capabilities(self):

        return get_method(self.method.currentText()).capabilities

    def _method_chosen(self, name: str) -> None:
        """The neighbour count is offered only to a method that takes it (not Noise2Void, not NRRN's fixed 2);
        the mode only where the method has more than one without a second stack (Noise2Stack: self, blindspot)."""
        self.neighbors.setEnabled(self._capabilities().neighbor_choice)
        self.mode.clear()
        self.mode.addItems(self_supervised_modes(name))
        self.mode.setEnabled(self.mode.count() > 1)

    def start(self) -> None:
        from napari.qt.threading import thread_worker

        layer = self.layers.layer()
        if layer is None:
            self.status.setText("no image layer to train on")
            return
        data = np.asarray(layer.data, dtype=np.float32)
        if data.ndim != 3 and self._capabilities().needs_stack:
            self.status.setText(f"{self.method.currentText()} needs a 3-D stack; {layer.name} has shape {data.shape}")
            return
        parent = Path(self.folder.text())
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{layer.name}_{self.method.currentText()}_", dir=parent))
        np.save(work / "noisy.npy", data)
        self.model_dir = work / "model"
        command = [
            sys.executable,
            "-m",
            "noise2stack.cli",
            "train",
            str(work / "noisy.npy"),
            "--out",
            str(self.model_dir),
            "--method",
            self.method.currentText(),
            "--max-time",
            f"{self.budget.value():g}",
            "--quiet",
            "--log-json",
            str(work / "log.jsonl"),
            "--axes",
            "ZYX" if data.ndim == 3 else "YX",
            *self.extra_options,
        ]
        if self._capabilities().neighbor_choice:
            command += ["--neighbors", str(self.neighbors.value())]
        if self.mode.isEnabled():
            command += ["--mode", self.mode.currentText()]
        self.cancelled = False
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(f"training {self.method.currentText()} on {layer.name} ...")

        @thread_worker
        def train():
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            log = work / "log.jsonl"
            while self.process.poll() is None:
                time.sleep(0.2)
                yield _progress_from_log(log)
            yield _progress_from_log(log)
            return self.process.returncode, self.process.stderr.read().strip()

        self.worker = train()
        self.worker.yielded.connect(self._on_progress)
        self.worker.returned.connect(lambda result: self._trained(result, layer))
        self.worker.errored.connect(self._failed)
        self.worker.start()

    def _on_progress(self, fraction) -> None:
        if fraction is not None:
            self.progress.setValue(int(round(100 * fraction)))

    def cancel(self) -> None:
        """Stop training: SIGTERM makes `train` keep its best weights so far, which are then applied."""
        self.cancelled = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        self.status.setText("cancelling ...")

    def _trained(self, result, layer) -> None:
        code, error = result
        model_dir = self.model_dir
        assert model_dir is not None, "start() sets the model folder before training"
        if not (model_dir / "weights.safetensors").is_file():
            last = error.splitlines()[-1] if error else f"exit code {code}"
            self._finish(f"training {'cancelled' if self.cancelled else 'failed'}: {last}")
            return
        self.status.setText(f"{'cancelled; ' if self.cancelled else ''}denoising with {model_dir} ...")
        self.worker = _denoise_in_thread(self, model_dir, layer)

    def _done(self, result: np.ndarray, layer) -> None:
        self.viewer.add_image(
            result,
            name=f"{layer.name} denoised",
            scale=layer.scale,
            translate=layer.translate,
            contrast_limits=layer.contrast_limits,
        )
        self.progress.setValue(100)
        self._finish(f"done; model folder {self.model_dir}")

    def _failed(self, exc) -> None:
        self._finish(f"error: {exc}")

    def _finish(self, text: str) -> None:
        self.status.setText(text)
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)


def _progress_from_log(path: Path) -> float | None:
    """Fraction of training done from the last epoch event of a ``--log-json`` file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        if event.get("event") == "epoch":
            left, elapsed = event.get("left_s"), event.get("elapsed_s") or 0.0
            if left is not None and elapsed + left > 0:
                return min(1.0, elapsed / (elapsed + left))
            return min(1.0, event["epoch"] / max(event["epochs"], 1))
    return None


class ApplyWidget(QWidget):
    """Denoise an image layer with a model folder written by ``noise2stack train``."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.layers = _LayerPicker(napari_viewer)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("model folder")
        self.button = QPushButton("Denoise")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("image layer", self.layers)
        form.addRow("model folder", self.folder)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.button)
        layout.addWidget(self.status)
        layout.addStretch()
        self.button.clicked.connect(self.start)
        self.worker = None

    def start(self) -> None:

        layer = self.layers.layer()
        if layer is None:
            self.status.setText("no image layer to denoise")
            return
        try:
            api.load_model(self.folder.text())  # a bad folder is one line here, not a traceback later
        except Noise2StackError as exc:
            self.status.setText(f"error: {exc}")
            return
        self.button.setEnabled(False)
        self.status.setText("denoising ...")
        self.worker = _denoise_in_thread(self, Path(self.folder.text()), layer)

    def _done(self, result: np.ndarray, layer) -> None:
        self.viewer.add_image(
            result,
            name=f"{layer.name} denoised",
            scale=layer.scale,
            translate=layer.translate,
            contrast_limits=layer.contrast_limits,
        )
        self.status.setText("done")
        self.button.setEnabled(True)

    def _failed(self, exc) -> None:
        self.status.setText(f"error: {exc}")
        self.button.setEnabled(True)
