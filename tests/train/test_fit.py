import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from noise2stack import api
from noise2stack.config import make_config
from noise2stack.io.stacks import read_stack
from noise2stack.noise import add_noise
from noise2stack.train import fit, split_planes


def test_split_planes_holds_out_every_tenth_plane():
    train, val = split_planes([25, 1], 0.1)
    assert val == [(0, 5), (0, 15)]
    assert (1, 0) in train and len(train) == 24


def test_short_training_on_real_data_lowers_loss_and_raises_psnr(shared_data, tmp_path):
    clean = read_stack(shared_data / "fluo_arabidopsis_embryo_confocal" / "arabidopsis_embryo_zyx.tif")[30:70]
    clean = clean.astype(np.float32)
    noisy = add_noise(clean, "poisson-gaussian", peak=20, sigma=10, seed=5)
    start = time.monotonic()
    model = api.train(
        noisy, tmp_path / "model", progress=False, neighbors=2, epochs=4, steps_per_epoch=25, patch=48, seed=0
    )
    denoised = api.predict(model, noisy, progress=False)
    elapsed = time.monotonic() - start
    log = np.genfromtxt(tmp_path / "model" / "training_log.csv", delimiter=",", names=True)
    assert log["train_loss"][-1] < log["train_loss"][0]
    assert log["val_loss"][-1] < log["val_loss"][0]
    gain = api.evaluate(denoised, clean)["psnr"] - api.evaluate(noisy, clean)["psnr"]
    assert gain >= 3.0, f"PSNR gain {gain:.2f} dB"
    assert elapsed < 600, f"took {elapsed:.0f} s"  # generous: a loaded machine is slow, not wrong


def _tiny_train(tmp_path, name, stack, seed):
    cfg = make_config(epochs=2, steps_per_epoch=3, patch=16, batch=4, seed=seed, val_patches=4)
    fit(cfg, [stack], tmp_path / name, progress=False)
    return load_file(str(tmp_path / name / "weights.safetensors"))


def test_same_seed_gives_identical_weights(tmp_path, tiny_stack):
    a = _tiny_train(tmp_path, "a", tiny_stack, seed=3)
    b = _tiny_train(tmp_path, "b", tiny_stack, seed=3)
    c = _tiny_train(tmp_path, "c", tiny_stack, seed=4)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_max_time_stops_cleanly_and_keeps_a_model(tmp_path, tiny_stack):
    cfg = make_config(epochs=10_000, steps_per_epoch=2, patch=16, batch=2, max_time=3.0, val_patches=2)
    start = time.monotonic()
    model = fit(cfg, [tiny_stack], tmp_path / "m", progress=False)
    assert time.monotonic() - start < 120  # stopped by max_time, not by 10,000 epochs
    assert (tmp_path / "m" / "weights.safetensors").is_file()
    rows = (tmp_path / "m" / "training_log.csv").read_text().strip().splitlines()
    assert 2 <= len(rows) < 10_000
    assert model.net(torch.zeros(1, 2, 16, 16)).shape == (1, 1, 16, 16)


def test_epochs_fitted_to_max_time_on_a_real_clock(tmp_path, tiny_stack):
    # wall-clock behaviour, with bounds a loaded machine keeps: the count is recorded, the run
    # stays inside the budget (plus teardown), and some of the budget is used
    cfg = make_config(steps_per_epoch=2, patch=16, batch=2, max_time=4.0, val_patches=2)
    model = fit(cfg, [tiny_stack], tmp_path / "m", progress=False)
    assert model.config.training.epochs is not None and model.config.training.epochs >= 1
    assert f"epochs: {model.config.training.epochs}" in (tmp_path / "m" / "config.yaml").read_text()
    rows = (tmp_path / "m" / "training_log.csv").read_text().strip().splitlines()[1:]
    assert 1 <= len(rows) <= model.config.training.epochs
    assert 0.2 * 4.0 < float(rows[-1].split(",")[-1]) <= 4.0 + 3.0


def test_epochs_fitted_to_a_budget_follow_one_per_step_cosine(tmp_path, tiny_stack, monkeypatch):
    from noise2stack.train import callbacks

    # a fake clock on which every epoch lasts 1 s: the re-fitted count is known exactly
    ticks = iter(range(10_000))
    monkeypatch.setattr(callbacks.FitEpochsToBudget, "clock", staticmethod(lambda: float(next(ticks))))
    cfg = make_config(steps_per_epoch=2, patch=16, batch=2, max_time=20.0, val_patches=2)
    model = fit(cfg, [tiny_stack], tmp_path / "m", progress=False)
    # clock reads: construction 0, train start 1, epoch starts 2, 3, ...; at epoch 1 (clock 3) the
    # last epoch took 1 s and 0.96 * 20 - (3 - 1) = 17.2 s are left: 1 + 17 = 18 epochs
    assert model.config.training.epochs == 18
    assert "epochs: 18" in (tmp_path / "m" / "config.yaml").read_text()
    rows = np.genfromtxt(tmp_path / "m" / "training_log.csv", delimiter=",", names=True)
    assert len(rows) == 18
    total = 18 * 2
    # the log holds the rate of each epoch's first step at full precision
    for epoch, lr in enumerate(rows["lr"]):
        step = 2 * epoch
        expected = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / total)) if epoch > 0 else 1e-3
        assert lr == pytest.approx(expected, rel=1e-12), epoch


def test_learning_rate_warm_up_then_cosine():
    from noise2stack.train.module import cosine_lr_factor

    assert [cosine_lr_factor(s, 10, warmup_steps=3) for s in range(3)] == [0.25, 0.5, 0.75]
    assert cosine_lr_factor(3, 10, warmup_steps=3) == 1.0
    assert cosine_lr_factor(3 + 7 // 2, 10, warmup_steps=3) == pytest.approx(0.5 * (1 + np.cos(np.pi * 3 / 7)))
    assert cosine_lr_factor(10, 10, warmup_steps=3) == pytest.approx(0.0, abs=1e-15)
    assert cosine_lr_factor(25, 10) == pytest.approx(0.0, abs=1e-15)


def test_learning_rate_steps_once_per_epoch():
    """Paper 000 §2.1.2: the rate decreases every epoch; within an epoch it stays at the epoch's first step's."""
    from noise2stack.train.module import cosine_lr_factor

    # 4 epochs of 5 steps: factors 1, (1 + cos(pi/4)) / 2, 1/2, (1 + cos(3 pi/4)) / 2, each held 5 steps
    factors = [cosine_lr_factor(s, 20, steps_per_epoch=5) for s in range(20)]
    expected = [1.0, 0.8535534, 0.5, 0.1464466]
    assert factors == pytest.approx([f for f in expected for _ in range(5)], abs=1e-7)
    # a warm-up of 3 steps inside the first epoch: the second epoch starts the cosine at step 5 of 3 + 17
    assert cosine_lr_factor(7, 20, warmup_steps=3, steps_per_epoch=5) == pytest.approx(
        0.5 * (1 + np.cos(np.pi * 2 / 17))
    )


def test_epoch_count_is_refitted_from_the_latest_timed_epoch(monkeypatch):
    from types import SimpleNamespace

    from noise2stack.train import callbacks

    # construction, train start, then the start of epochs 0, 1, 2, 3
    clock = iter([0.0, 100.0, 102.0, 112.0, 118.0, 124.0])
    monkeypatch.setattr(callbacks.FitEpochsToBudget, "clock", staticmethod(lambda: next(clock)))
    recorded = []
    refit = callbacks.FitEpochsToBudget(max_time=100.0, on_refit=recorded.append)
    trainer = SimpleNamespace(
        current_epoch=0,
        fit_loop=SimpleNamespace(max_epochs=50),
        callbacks=[],
        num_training_batches=100,
        lr_scheduler_configs=[],
    )
    module = SimpleNamespace(epochs=50)
    refit.on_train_start(trainer, module)
    for epoch in range(4):
        trainer.current_epoch = epoch
        refit.on_train_epoch_start(trainer, module)
        if epoch == 1:
            # 96 s of the budget, 12 s gone, epoch 0 took 10 s (warm-up): 1 + int(84 / 10) = 9
            assert recorded == [9] and trainer.fit_loop.max_epochs == 9 and module.epochs == 9
    # epoch 1 took 6 s: 2 + int(78 / 6) = 15; epoch 2 also 6 s: 3 + int(72 / 6) = 15, unchanged
    assert recorded == [9, 15] and module.epochs == 15


def test_copy_mode_trains_on_two_noisy_copies(tmp_path, tiny_stack):
    a = add_noise(tiny_stack, "gaussian", sigma=5, seed=1)
    b = add_noise(tiny_stack, "gaussian", sigma=5, seed=2)
    cfg = make_config(mode="copy", neighbors=2, epochs=1, steps_per_epoch=2, patch=16, batch=2, val_patches=2)
    model = fit(cfg, [a], tmp_path / "m", targets=[b], progress=False)
    assert model.net.in_channels == 3 and model.net.residual_channels == [1]


def test_data_loader_workers_give_the_same_training(tmp_path, tiny_stack):
    # batches are a pure function of (seed, epoch, step), so worker processes change nothing
    cfg = dict(epochs=2, steps_per_epoch=3, patch=16, batch=4, seed=5, val_patches=4)
    fit(make_config(**cfg, num_workers=0), [tiny_stack], tmp_path / "w0", progress=False)
    fit(make_config(**cfg, num_workers=2), [tiny_stack], tmp_path / "w2", progress=False)
    a = load_file(str(tmp_path / "w0" / "last.safetensors"))
    b = load_file(str(tmp_path / "w2" / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_several_stacks_train_one_model(tmp_path, tiny_stack, make_stack):
    other = make_stack(n_planes=9, height=52, width=44, seed=3)
    files = []
    for name, stack in (("a.npy", tiny_stack), ("b.npy", other)):
        np.save(tmp_path / name, add_noise(stack, "gaussian", sigma=5, seed=1))
        files.append(tmp_path / name)
    model = api.train(
        files, tmp_path / "m", progress=False, epochs=1, steps_per_epoch=2, patch=16, batch=4, val_patches=4
    )
    import json

    recorded = json.loads((tmp_path / "m" / "versions.json").read_text())["training_data"]["inputs"]
    assert [r["path"] for r in recorded] == [str(f.resolve()) for f in files]
    # one normalisation over both stacks' intensities
    both = np.concatenate([np.load(f).ravel() for f in files])
    assert model.normalizer.low_value == pytest.approx(np.percentile(both, 3.0), rel=1e-5)
    for f in files:
        assert api.predict(model, f, progress=False).shape == np.load(f).shape


def test_a_budget_without_steps_per_epoch_gets_about_ten_epochs(tmp_path, tiny_stack, monkeypatch):
    import importlib

    fit_module = importlib.import_module("noise2stack.train.fit")  # the module, not the function

    # 0.97 * 3 s / 0.01 s = 291 steps in the budget: epochs of 29 steps; an explicit count is kept
    monkeypatch.setattr(fit_module, "_seconds_per_step", lambda module, source, config: 0.01)
    cfg = make_config(patch=16, batch=2, max_time=3.0, val_patches=2)
    model = fit(cfg, [tiny_stack], tmp_path / "m", progress=False)
    assert model.config.training.steps_per_epoch == 29
    assert "steps_per_epoch: 29" in (tmp_path / "m" / "config.yaml").read_text()
    cfg = make_config(patch=16, batch=2, max_time=1.0, val_patches=2, steps_per_epoch=7)
    assert fit(cfg, [tiny_stack], tmp_path / "m7", progress=False).config.training.steps_per_epoch == 7
    assert fit_module.budget_steps_per_epoch(300.0, 0.25, 100) == 100  # long budgets keep 100-step epochs
    assert fit_module.budget_steps_per_epoch(5.0, 0.25, 100) == 10  # never under 10 steps
