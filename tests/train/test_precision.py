"""Mixed precision: --precision auto resolves by the hardware and is recorded; bf16 prediction is close."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from noise2stack import api, resources
from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.model import Model

FAST = dict(epochs=1, steps_per_epoch=2, batch=2, patch=16, val_patches=2, neighbors=2)


def stack(seed=0):
    return np.random.default_rng(seed).normal(100, 10, (6, 24, 24)).astype(np.float32)


@pytest.mark.parametrize("native", [True, False])
def test_auto_resolves_by_the_hardware_and_the_folder_records_the_one_used(tmp_path, monkeypatch, native):
    monkeypatch.setattr(resources, "native_bf16", lambda: native)
    assert resources.resolve_precision("auto") == ("bf16" if native else "32")
    assert resources.resolve_precision("32") == "32"
    model = api.train(stack(), tmp_path / "m", progress=False, **FAST)
    expected = "bf16" if native else "32"
    assert model.config.training.precision == expected
    assert yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())["training"]["precision"] == expected


def test_bf16_training_runs_autocast_and_float32_does_not(tmp_path, monkeypatch):
    seen = []
    original = torch.nn.Conv2d.forward

    def spy(self, x):
        seen.append(torch.is_autocast_enabled("cpu"))
        return original(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    api.train(stack(), tmp_path / "a", precision="bf16", progress=False, **FAST)
    assert seen and all(seen[-5:])
    seen.clear()
    api.train(stack(), tmp_path / "b", precision="32", progress=False, **FAST)
    assert seen and not any(seen)


def test_bf16_prediction_is_close_to_float32_but_not_the_same():
    torch.manual_seed(0)
    model = Model(make_config(neighbors=2), Normalizer("percentile", 80.0, 120.0))
    data = stack(1)
    full = api.predict(model, data, progress=False)
    half = api.predict(model, data, progress=False, precision="bf16")
    spread = float(full.max() - full.min())
    assert 0 < np.abs(half - full).max() < 0.02 * spread


def test_bad_precision_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    model = Model(make_config(neighbors=2), Normalizer("percentile", 80.0, 120.0))
    with pytest.raises(Noise2StackError, match="unknown `precision`"):
        api.predict(model, stack(), progress=False, precision="8")
    if not torch.cuda.is_available():
        with pytest.raises(Noise2StackError, match="needs a GPU"):
            api.predict(model, stack(), progress=False, precision="16")
        with pytest.raises(Noise2StackError, match="needs a GPU"):
            api.train(stack(), tmp_path / "m", precision="16", progress=False, **FAST)
    with pytest.raises(Noise2StackError, match="precision"):
        api.train(stack(), tmp_path / "n", precision="64", progress=False, **FAST)
