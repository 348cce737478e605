"""Noise2SR's masked loss and NRRN's consensus loss (eq. 3 of paper 003), on hand-made tensors."""

import numpy as np
import torch

from noise2stack.config import make_config
from noise2stack.methods import get_method
from noise2stack.methods.nrrn import consensus_loss
from noise2stack.nets import build_net


def test_n2sr_transform_gives_half_size_input_and_full_size_target_and_mask():
    method = get_method("n2sr")
    config = make_config(method="n2sr", net="n2sr-unet", neighbors=0, residual=False, patch=8)
    plane = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    sub, target, mask = method.transform(plane, plane.copy(), np.random.default_rng(0), config)
    assert sub.shape == (1, 4, 4) and target.shape == mask.shape == (1, 8, 8)
    np.testing.assert_array_equal(np.sort(np.concatenate([sub.ravel(), target[mask == 1]])), plane.ravel())


def test_n2sr_loss_ignores_the_sampled_pixels():
    method = get_method("n2sr")
    config = make_config(method="n2sr", net="n2sr-unet", neighbors=0, residual=False, patch=8)
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(1, 8, 8)).astype(np.float32)
    sub, target, mask = method.transform(plane, plane.copy(), np.random.default_rng(2), config)
    torch.manual_seed(0)
    net = build_net("n2sr-unet", 1).eval()
    with torch.no_grad():
        prediction = net(torch.from_numpy(sub)[None])
    tgt, msk = torch.from_numpy(target)[None], torch.from_numpy(mask)[None]
    loss = method.loss(prediction, tgt, msk)
    changed = tgt.clone()
    changed[msk == 0] += 100.0  # the sampled pixels (the network's input) as targets: ignored
    assert method.loss(prediction, changed, msk) == loss
    changed = tgt.clone()
    changed[msk == 1] += 1.0
    assert method.loss(prediction, changed, msk) != loss
    # hand value: mean squared error over the 48 complement pixels
    expected = ((prediction - tgt)[msk == 1] ** 2).sum() / 48
    torch.testing.assert_close(loss, expected)


def test_consensus_loss_is_eq_3():
    first = torch.tensor([[[[1.0, 2.0]]]])  # x'_j = f(x_{j-1}, x_j)
    second = torch.tensor([[[[0.0, 4.0]]]])  # x''_j = f(x_{j+1}, x_j)
    below = torch.tensor([[[[1.0, 1.0]]]])  # x_{j-1}
    above = torch.tensor([[[[3.0, 0.0]]]])  # x_{j+1}
    # per pixel: 1/2 (x' - x_{j+1})^2 + 1/2 (x'' - x_{j-1})^2 - 1/4 (x' - x'')^2
    pixel0 = 0.5 * 4 + 0.5 * 1 - 0.25 * 1  # 2.25
    pixel1 = 0.5 * 4 + 0.5 * 9 - 0.25 * 4  # 5.5
    assert consensus_loss(first, second, below, above).item() == (pixel0 + pixel1) / 2


def test_nrrn_training_loss_uses_both_branches_of_one_network():
    method = get_method("nrrn")
    torch.manual_seed(0)
    net = build_net("nrrn", 3, units=1)
    x = torch.randn(2, 3, 8, 8)
    loss = method.training_loss(net, x, x[:, 1:2], torch.ones(2, 1, 8, 8))
    first = net.branch(x[:, 0:1], x[:, 1:2])[0]
    second = net.branch(x[:, 2:3], x[:, 1:2])[0]
    torch.testing.assert_close(loss, consensus_loss(first, second, x[:, 0:1], x[:, 2:3]))
    loss.backward()  # one parameter set receives the gradient of both branches
    assert all(p.grad is not None for p in net.parameters())


def test_nrrn_defaults_lr_1e3_and_one_unit_in_config():
    method = get_method("nrrn")
    config = make_config(method="nrrn")  # the method section's own defaults (issue 23: CPU budgets)
    assert config.training.lr == 1e-3 and config.algorithm.units == 1 and config.algorithm.net == "nrrn"
    assert method.in_channels(config) == 3 and method.include_center(config)
