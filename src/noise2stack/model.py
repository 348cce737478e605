"""A trained model and its folder.

A model folder holds::

    config.yaml            the TrainConfig it was trained with, in sections (validated again on
                           load; a flat config of model format 1 is read through config.nest)
    weights.safetensors    the best weights (lowest validation loss)
    last.safetensors       the weights at the end of training
    normalization.json     intensity statistics, so predictions come back in input units
    background.safetensors the median background image (only with background subtraction)
    training_log.csv       epoch, step, train_loss, val_loss, lr, seconds
    versions.json          format version, versions of noise2stack/torch/numpy/python, and the
                           training files with their SHA-256 (``train --resume`` reads them)
    checkpoint.safetensors resumable training state (optimiser, schedule, loop position; no pickle)
    noise_model.npz        pn2v/pn2stack only: the noise model (raw units) the model was trained with

Nothing in it is ever unpickled: tensors are read with safetensors, the rest is YAML/JSON.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import lightning
import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from noise2stack import __version__
from noise2stack.config import TrainConfig, config_to_yaml, make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path, write_json, write_text
from noise2stack.io.paths import file_sha256  # noqa: F401  (re-exported: model.file_sha256)
from noise2stack.methods import Method, get_method
from noise2stack.nets import build_net
from noise2stack.noise.histogram import HistogramNoiseModel

FORMAT_VERSION = 2  # 2: config.yaml in sections (algorithm, data, training); 1: one flat mapping
CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "weights.safetensors"
LAST_WEIGHTS_FILE = "last.safetensors"
NORMALIZATION_FILE = "normalization.json"
BACKGROUND_FILE = "background.safetensors"
LOG_FILE = "training_log.csv"
VERSIONS_FILE = "versions.json"
CHECKPOINT_FILE = "checkpoint.safetensors"
NOISE_MODEL_FILE = "noise_model.npz"
MODEL_FILES = (
    CONFIG_FILE,
    WEIGHTS_FILE,
    LAST_WEIGHTS_FILE,
    NORMALIZATION_FILE,
    BACKGROUND_FILE,
    LOG_FILE,
    VERSIONS_FILE,
    CHECKPOINT_FILE,
    NOISE_MODEL_FILE,
)


def package_version() -> str:
    return __version__


def versions() -> dict:

    return {
        "format": FORMAT_VERSION,
        "noise2stack": package_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def save_weights(net: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write a network's state dict as safetensors, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


class Model:
    """A network with the config and normalisation it was trained with.

    Parameters
    ----------
    config : TrainConfig
    normalizer : Normalizer
    net : torch.nn.Module, optional
        Built from the config if not given.
    noise_model : HistogramNoiseModel, optional
        Raw-unit noise model of the probabilistic methods (pn2v, pn2stack).
    """

    def __init__(
        self, config: TrainConfig, normalizer: Normalizer, net: torch.nn.Module | None = None, noise_model=None
    ) -> None:
        self.config = config
        self.normalizer = normalizer
        self.noise_model = noise_model
        self.method: Method = get_method(config.method).bind(config, normalizer, noise_model)
        joint = config.data.joint_channels  # every input and output plane comes once per joint channel
        self.net = (
            net
            if net is not None
            else build_net(
                config.algorithm.net,
                self.method.in_channels(config) * joint,
                self.method.residual_channels(config),
                out_channels=self.method.out_channels(config) * joint,
                joint_channels=joint,
                **self.method.net_options(config),
                **({"batch_norm": True} if config.algorithm.batch_norm else {}),
            )
        )
        self.folder: Path | None = None
        self.stopped_by_signal: int | None = None  # set by training stopped with SIGINT/SIGTERM

    @property
    def neighbors(self) -> int:
        return self.config.algorithm.neighbors

    @property
    def include_center(self) -> bool:
        return self.method.include_center(self.config)

    # Stable accessors for ``predict`` and ``export``: they read the model through these, not
    # through the config's layout.
    @property
    def method_name(self) -> str:
        return self.config.method

    @property
    def mode(self) -> str:
        """Where the training target came from (``self`` or ``copy``; provenance of predictions)."""
        return self.config.algorithm.mode

    @property
    def seed(self) -> int:
        """The training seed (provenance of predictions)."""
        return self.config.training.seed

    @property
    def axes(self) -> str:
        """Axis letters the model was trained with (e.g. ``ZYX``)."""
        return self.config.data.axes

    @property
    def joint_channels(self) -> int:
        """Image channels the network sees and predicts at once (1: a single-channel model)."""
        return self.config.data.joint_channels

    @property
    def channels_last(self) -> bool:
        return self.config.training.channels_last

    def checksum(self) -> str | None:
        """SHA-256 of the weights file the model was loaded from (provenance)."""
        if self.folder is None:
            return None
        return file_sha256(self.folder / WEIGHTS_FILE)

    def save(self, folder: str | os.PathLike, extra_info: dict | None = None) -> None:
        """Write config, weights, normalisation and versions to ``folder`` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / CONFIG_FILE, config_to_yaml(self.config))
        write_json(folder / NORMALIZATION_FILE, self.normalizer.to_dict())
        if self.normalizer.background is not None:
            with atomic_path(folder / BACKGROUND_FILE) as tmp:
                save_file({"background": torch.from_numpy(self.normalizer.background)}, str(tmp))
        write_json(folder / VERSIONS_FILE, {**versions(), **(extra_info or {})})
        if self.noise_model is not None:
            self.noise_model.save(folder / NOISE_MODEL_FILE)
        save_weights(self.net, folder / WEIGHTS_FILE)
        self.folder = folder

    @classmethod
    def load(cls, folder: str | os.PathLike, weights: str = WEIGHTS_FILE) -> Model:
        """Load a model folder without unpickling anything.

        Raises
        ------
        Noise2StackError
            If the folder is not a model, its config is invalid, its format is newer than this
            version of noise2stack understands, or the weights do not fit the network.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise Noise2StackError(f"model folder not found: {folder}")
        missing = [f for f in (CONFIG_FILE, weights, NORMALIZATION_FILE) if not (folder / f).is_file()]
        if missing:
            raise Noise2StackError(f"{folder} is not a noise2stack model (missing {', '.join(missing)})")
        version_path = folder / VERSIONS_FILE
        if version_path.is_file():
            try:
                fmt = json.loads(version_path.read_text(encoding="utf-8")).get("format", FORMAT_VERSION)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                raise Noise2StackError(f"{version_path} is not valid JSON") from None
            if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
                raise Noise2StackError(
                    f"{folder} was written in model format {fmt!r}, newer than this noise2stack "
                    f"({package_version()}, format {FORMAT_VERSION}) reads; upgrade noise2stack"
                )
        try:
            data = yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise Noise2StackError(f"{folder / CONFIG_FILE} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise Noise2StackError(f"{folder / CONFIG_FILE} must hold a mapping")
        config = make_config(str(folder / CONFIG_FILE), **data)  # one-line errors naming the bad key
        try:
            stats = json.loads((folder / NORMALIZATION_FILE).read_text(encoding="utf-8"))
            background = None
            if stats.get("has_background"):
                background = load_file(str(folder / BACKGROUND_FILE))["background"].numpy()
            normalizer = Normalizer.from_dict(stats, background)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, OSError, SafetensorError) as exc:
            raise Noise2StackError(f"{folder} has invalid normalisation statistics: {exc}") from None
        noise_model = None
        if get_method(config.method).capabilities.needs_noise_model:
            if not (folder / NOISE_MODEL_FILE).is_file():
                raise Noise2StackError(f"{folder} is a {config.method} model without its {NOISE_MODEL_FILE}")
            noise_model = HistogramNoiseModel.load(folder / NOISE_MODEL_FILE)
        model = cls(config, normalizer, noise_model=noise_model)
        try:
            state = load_file(str(folder / weights))
            model.net.load_state_dict(state, strict=True)
        except (SafetensorError, RuntimeError, OSError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise Noise2StackError(f"{folder / weights} does not hold this model's weights: {first}") from None
        model.net.eval()
        model.folder = folder
        return model
