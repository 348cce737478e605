"""NRRN: one parameter set for both branches, shared W1, the inference paths, and its context."""

import pytest
import torch

from noise2stack.errors import Noise2StackError
from noise2stack.nets import build_net
from noise2stack.nets.nrrn import NRRNView


def test_parameters_one_set_with_w1_shared_across_units():
    net = build_net("nrrn", 3, units=3)
    f = 64
    per_unit = (9 * 2 * f * 2 * f + 2 * f) + (9 * 2 * f * f + f) + (9 * 2 + 1)  # gates, candidate, feedback
    shared = (9 * f + f) + (9 * f * f + f) + (9 * f + 1)  # W0, W1, final
    assert sum(p.numel() for p in net.parameters()) == shared + 3 * per_unit
    assert len([m for m in net.modules() if m is net.w1]) == 1


def test_two_branches_are_the_same_function_on_their_pairs():
    torch.manual_seed(0)
    net = build_net("nrrn", 3, units=2).eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        first, second = net(x, return_branches=True)
        # swapping the neighbours swaps the branches: one function, one set of weights
        swapped_first, swapped_second = net(x[:, [2, 1, 0]], return_branches=True)
        torch.testing.assert_close(first, swapped_second)
        torch.testing.assert_close(second, swapped_first)
        torch.testing.assert_close(net(x), (first + second) / 2)
        torch.testing.assert_close(first, net.branch(x[:, 0:1], x[:, 1:2])[0])


def test_one_two_three_image_paths_differ_as_they_should():
    torch.manual_seed(0)
    net = build_net("nrrn", 3, units=2).eval()
    x = torch.randn(1, 3, 12, 12)
    with torch.no_grad():
        three, two, one = (NRRNView(net, k)(x) for k in (3, 2, 1))
        first, _ = net(x, return_branches=True)
        torch.testing.assert_close(two, first)  # two images: the branch on (x_{j-1}, x_j)
        torch.testing.assert_close(one, net.branch(x[:, 1:2], x[:, 1:2])[0])  # one: the plane is its own neighbour
        assert (three - two).abs().max() > 1e-4 and (two - one).abs().max() > 1e-4
        changed = x.clone()
        changed[:, 2] += 1
        torch.testing.assert_close(NRRNView(net, 2)(changed), two)  # the plane above is not used
        other_neighbours = x.clone()
        other_neighbours[:, [0, 2]] = torch.randn(1, 2, 12, 12)
        torch.testing.assert_close(NRRNView(net, 1)(other_neighbours), one)  # one image: no neighbour used
        assert (NRRNView(net, 3)(changed) - three).abs().max() > 1e-4


def test_unit_estimates_are_the_running_image():
    torch.manual_seed(0)
    net = build_net("nrrn", 3, units=2).eval()
    x = torch.randn(1, 3, 10, 10)
    with torch.no_grad():
        out, estimates = net.branch(x[:, 0:1], x[:, 1:2])
        torch.testing.assert_close(NRRNView(net, 2, unit=1)(x), estimates[0])
        torch.testing.assert_close(NRRNView(net, 2, unit=2)(x), estimates[1])
        assert len(estimates) == 2 and (estimates[0] - estimates[1]).abs().max() > 1e-6


@pytest.mark.parametrize("units", [1, 2, 4])
def test_context_is_the_exact_reach_of_an_input_pixel(units):
    # Gradients in float64, not impulses: after several saturating gates an impulse's effect at the
    # border of the reach falls below float rounding and the reach would be under-measured.
    torch.manual_seed(units)
    net = build_net("nrrn", 3, units=units).double().eval()
    size = 48
    x = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    net(x)[0, 0, size // 2, size // 2].backward()
    ys, xs = torch.nonzero(x.grad.abs().sum(dim=1)[0] > 0, as_tuple=True)
    reach = max(int((ys - size // 2).abs().max()), int((xs - size // 2).abs().max()))
    assert reach == net.context == 3 * units + 3


def test_wrong_channels_refused():
    with pytest.raises(Noise2StackError, match="3 planes"):
        build_net("nrrn", 1)


def _centre_taps(conv: torch.nn.Conv2d, rng) -> tuple:
    """Make a 3x3 convolution a per-pixel matrix (centre tap only, random values); return it and its bias."""
    weight = rng.normal(0, 0.4, conv.weight.shape[:2])
    bias = rng.normal(0, 0.1, conv.bias.shape)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = torch.from_numpy(weight)
        conv.bias.copy_(torch.from_numpy(bias))
    return weight, bias


def _figure_1_by_hand(weights: dict, adjacent, image):
    """One branch of Figure 1 for one pixel, in NumPy float64, written from paper 003's equations:
    W0 encoding (1B), the synthesizer's GRU (eq. 1, 1C), noise attention (1E), the running image,
    the feedback block (1D) and the final layer."""
    import numpy as np

    def affine(name, vector):
        w, b = weights[name]
        return w @ vector + b

    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h_tilde = np.maximum(affine("w0", [adjacent]), 0)
    h_hat = np.maximum(affine("w0", [image]), 0)
    running = image
    for unit in range(weights["units"]):
        h_tilde = np.tanh(affine("w1", h_tilde))
        gates = sigmoid(affine(f"gates{unit}", np.concatenate([h_hat, h_tilde])))
        update, reset = gates[:64], gates[64:]
        candidate = np.tanh(affine(f"candidate{unit}", np.concatenate([h_hat, reset * h_tilde])))
        h_hat = (1 - update) * h_tilde + update * candidate
        running = running - h_hat.max() * h_hat[0]  # attention: the strongest channel gates channel 0
        h_hat[0] = affine(f"feedback{unit}", [running, h_hat[0]])[0]
    return running + affine("final", h_hat)[0]


def test_every_block_of_figure_1_against_numpy_by_hand():
    """Per-pixel weights (centre taps) make each block arithmetic that NumPy redoes from the equations."""
    import numpy as np

    rng = np.random.default_rng(0)
    net = build_net("nrrn", 3, units=2).double().eval()
    weights: dict = {"units": 2, "w0": _centre_taps(net.w0, rng), "w1": _centre_taps(net.w1, rng)}
    weights["final"] = _centre_taps(net.final, rng)
    for unit in range(2):
        weights[f"gates{unit}"] = _centre_taps(net.gates[unit], rng)
        weights[f"candidate{unit}"] = _centre_taps(net.candidate[unit], rng)
        weights[f"feedback{unit}"] = _centre_taps(net.feedback[unit], rng)
    x = rng.normal(0, 1, (1, 3, 3, 4))
    with torch.no_grad():
        result = net(torch.from_numpy(x))[0, 0].numpy()
    below, centre, above = x[0]
    by_hand = np.zeros((3, 4))
    for y in range(3):
        for col in range(4):
            branches = [_figure_1_by_hand(weights, n[y, col], centre[y, col]) for n in (below, above)]
            by_hand[y, col] = np.mean(branches)  # §2.1.2: the mean of the two branches
    np.testing.assert_allclose(result, by_hand, rtol=0, atol=1e-10)
    assert np.abs(by_hand - centre).max() > 0.1  # the blocks do change the plane
