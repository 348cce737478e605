"""Training survives kill -9 and SIGTERM, and a resumed run ends with the uninterrupted run's weights."""

import os
import signal
import subprocess
import sys
import time

import pytest
import tifffile
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from noise2stack.model import Model
from noise2stack.noise import add_noise
from noise2stack.train.checkpoint import STATE_KEY, load_state

CONFIG = "checkpoint_seconds: 0\nepochs: 3\nsteps_per_epoch: 12\npatch: 32\nbatch: 4\nval_patches: 4\n"


def _global_step(path):
    try:
        with safe_open(str(path), framework="pt") as handle:
            import json

            header = json.loads(handle.metadata()[STATE_KEY])
        return dict(header["__dict__"])["global_step"]
    except Exception:
        return -1


def _start(tmp_path, out):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "noise2stack.cli",
        "train",
        str(tmp_path / "noisy.tif"),
        "--out",
        str(out),
        "--config",
        str(tmp_path / "c.yaml"),
        "--quiet",
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(proc, checkpoint, step, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists() and _global_step(checkpoint) >= step:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def setup(tmp_path, tiny_stack):
    import numpy as np

    stack = np.concatenate([tiny_stack, tiny_stack[::-1]])
    tifffile.imwrite(tmp_path / "noisy.tif", add_noise(stack, "gaussian", sigma=10, seed=0))
    (tmp_path / "c.yaml").write_text(CONFIG)
    return tmp_path


def test_kill_9_then_resume_equals_uninterrupted(setup):
    d = setup
    proc = _start(d, d / "run")
    assert _wait_for_step(proc, d / "run" / "checkpoint.safetensors", 5), proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # whatever the moment of the kill, every file under its final name is whole
    Model.load(d / "run")
    if (d / "run" / "last.safetensors").exists():  # written at the first epoch's end
        Model.load(d / "run", "last.safetensors")
    load_state(d / "run" / "checkpoint.safetensors")
    if (d / "run" / "training_log.csv").exists():
        rows = (d / "run" / "training_log.csv").read_text().splitlines()
        assert rows[0].startswith("epoch,") and all(len(r.split(",")) == 6 for r in rows)
    resumed = subprocess.run(
        [sys.executable, "-m", "noise2stack.cli", "train", "--resume", str(d / "run"), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    # the reference in a subprocess too: same interpreter settings (threads) as the interrupted run
    ref = subprocess.run(
        [
            sys.executable,
            "-m",
            "noise2stack.cli",
            "train",
            str(d / "noisy.tif"),
            "--out",
            str(d / "ref"),
            "--config",
            str(d / "c.yaml"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ref.returncode == 0, ref.stderr
    for name in ("last.safetensors", "weights.safetensors"):
        a, b = load_file(str(d / "ref" / name)), load_file(str(d / "run" / name))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    ref_log = (d / "ref" / "training_log.csv").read_text().splitlines()
    run_log = (d / "run" / "training_log.csv").read_text().splitlines()
    assert [r.split(",")[:2] + r.split(",")[3:5] for r in run_log] == [
        r.split(",")[:2] + r.split(",")[3:5] for r in ref_log
    ]


def test_sigterm_stops_cleanly_with_a_resumable_model(setup):
    d = setup
    proc = _start(d, d / "run")
    assert _wait_for_step(proc, d / "run" / "checkpoint.safetensors", 2), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "--resume" in err
    Model.load(d / "run")
    step = _global_step(d / "run" / "checkpoint.safetensors")
    assert 2 <= step < 36
