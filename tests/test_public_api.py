"""The top-level names a Python user finds: ``import noise2stack as n2s``."""

import subprocess
import sys

import numpy as np
import pytest

import noise2stack as n2s


def test_every_exported_name_resolves_and_is_listed():
    for name in n2s.__all__:
        assert getattr(n2s, name) is not None
    assert {"train", "predict", "analyze", "Model", "TrainConfig", "N2VConfig"} <= set(dir(n2s))
    with pytest.raises(AttributeError):
        n2s.not_a_name  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, noise2stack; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_train_and_predict_from_the_top_level(tmp_path):
    rng = np.random.default_rng(0)
    stack = (10 + 100 * rng.random((6, 32, 32))).astype(np.float32)
    model = n2s.train(
        stack, tmp_path / "m", epochs=1, steps_per_epoch=2, patch=16, batch=2, val_patches=2, progress=False
    )
    assert isinstance(model, n2s.Model) and isinstance(model.config, n2s.TrainConfig)
    assert n2s.predict(model, stack, progress=False).shape == stack.shape


def test_functions_win_over_modules_of_the_same_name():
    import importlib

    for name in ("train", "predict", "report", "export", "compare"):
        module = importlib.import_module(f"noise2stack.{name}")  # binds nothing over the function
        assert callable(getattr(n2s, name)) and not isinstance(getattr(n2s, name), type(module))
    from noise2stack.report import model_report_html  # the module is still reached by name

    assert callable(model_report_html)
