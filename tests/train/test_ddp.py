"""--devices 2 on CPU: two processes (gloo) train one model that loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noise2stack import api
from noise2stack.errors import Noise2StackError
from noise2stack.model import Model
from noise2stack.train.batches import TrainBatches


def test_ddp_two_cpu_processes_train_a_loadable_model(tmp_path, make_stack):
    import subprocess
    import sys

    stack = make_stack(8, 32, 32)
    kwargs = dict(neighbors=2, patch=16, batch=2, epochs=1, steps_per_epoch=4, val_patches=2, seed=3)
    # DDP forks its worker processes: fork in a fresh interpreter, not in this test process whose
    # earlier tests left thread pools (Dask, OpenMP) behind; a forked child can deadlock on their locks
    np.save(tmp_path / "stack.npy", stack)
    (tmp_path / "c.yaml").write_text("".join(f"{k}: {v}\n" for k, v in kwargs.items()))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "noise2stack.cli",
            "train",
            str(tmp_path / "stack.npy"),
            "--out",
            str(tmp_path / "ddp"),
            "--config",
            str(tmp_path / "c.yaml"),
            "--devices",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    single = api.train(np.load(tmp_path / "stack.npy"), tmp_path / "one", progress=False, **kwargs)
    loaded = Model.load(tmp_path / "ddp")
    assert loaded.config.training.devices == 2
    ddp_state, single_state = loaded.net.state_dict(), single.net.state_dict()
    for key in ddp_state:
        assert torch.isfinite(ddp_state[key]).all()
    # rank 1 trained on batches of its own, so the averaged gradients differ from one device's
    assert any(not torch.equal(ddp_state[k], single_state[k]) for k in ddp_state if ddp_state[k].is_floating_point())
    out = api.predict(tmp_path / "ddp", stack, progress=False)
    assert out.shape == stack.shape and np.isfinite(out).all()


def test_rank_streams_differ_and_rank_zero_is_the_single_device_stream():
    class Source:
        def sample(self, rng):
            value = rng.random()
            return np.full((1, 2, 2), value, np.float32), np.zeros((1, 2, 2), np.float32)

    batches = TrainBatches(Source(), lambda i, t, r: (i, t, None), batch=1, seed=7)
    rank0, rank1 = batches[(2, 5)][0], batches[(2, 5, 1)][0]
    assert float(rank0[0, 0, 0, 0]) == pytest.approx(np.random.default_rng([7, 2, 5]).random(), abs=1e-7)
    assert float(rank1[0, 0, 0, 0]) == pytest.approx(np.random.default_rng([7, 2, 5, 1]).random(), abs=1e-7)


def test_devices_without_epochs_is_refused(tmp_path, make_stack):
    with pytest.raises(Noise2StackError, match="`devices` 2 needs `epochs`"):
        api.train(make_stack(8, 32, 32), tmp_path / "m", devices=2, max_time=5, progress=False, patch=16)
