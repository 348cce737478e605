"""The golden set (issue 22): every method trains and predicts today as it did before the redesign.

Recorded by ``cases.py record`` before the first move. On the CPU that recorded them the outputs
are bitwise equal; on another CPU oneDNN picks other kernels (another reduction order), and three
Adam steps carry that rounding into the weights, so the comparison allows 1e-4 of the output's
range: any change of behaviour (a sample, a mask, a loss, a tile) moves outputs by far more.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("golden_cases", Path(__file__).with_name("cases.py"))
cases = importlib.util.module_from_spec(_spec)
sys.modules["golden_cases"] = cases
_spec.loader.exec_module(cases)
CASES, DATA, PREDICT = cases.CASES, cases.DATA, cases.PREDICT


def _assert_close(found: np.ndarray, expected: np.ndarray) -> None:
    assert found.shape == expected.shape
    scale = float(np.ptp(expected))
    assert np.max(np.abs(found - expected)) <= 1e-4 * scale


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_its_golden_output(name, tmp_path):
    outputs, _ = cases.run_case(name, tmp_path)
    expected = np.load(DATA / f"{name}.npz")
    assert sorted(outputs) == sorted(expected.files)
    for key in expected.files:
        _assert_close(outputs[key], expected[key])


def test_a_model_folder_written_before_the_redesign_loads_and_predicts_the_same(tmp_path):
    from noise2stack import api

    folder = tmp_path / "old"
    shutil.copytree(DATA / "model_folder", folder)
    found = api.predict(folder, cases.stacks()["noisy"], **PREDICT)
    # its own prediction, recorded with it (the cases' outputs were re-recorded when the schedule changed)
    expected = np.load(DATA / "model_folder.prediction.npz")["prediction"]
    assert np.max(np.abs(found - expected)) <= 1e-5 * float(np.ptp(expected))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_old_flat_config_loads(name):
    from noise2stack.config import load_config

    config = load_config(Path(DATA / f"{name}.config.yaml"))
    assert config.method == CASES[name][0]["method"]
