import pickle

import numpy as np
import pytest
import torch

from noise2stack.errors import Noise2StackError
from noise2stack.noise.histogram import HistogramNoiseModel, from_calibration, from_pairs, plot


def gaussian_model(sigma=4.0, seed=0, n=400_000):
    rng = np.random.default_rng(seed)
    signal = rng.uniform(20, 220, size=n)
    observation = signal + rng.normal(0, sigma, size=n)
    return from_pairs(signal, observation, value_range=(0.0, 256.0))


def test_rows_sum_to_one_and_empty_rows_filled():
    model = gaussian_model()
    np.testing.assert_allclose(model.probabilities.sum(axis=1), 1.0, atol=1e-12)
    # signal rows below 20 got no data: they are the nearest filled row (row 20, centre 20.5)
    # shifted down by the signal difference, mass pushed below the range kept in the first bin
    np.testing.assert_allclose(model.probabilities[3, 1:-17], model.probabilities[20, 18:], atol=1e-15)
    assert model.probabilities[3, 0] == pytest.approx(model.probabilities[20, :18].sum())


def test_sparse_rows_borrow_the_shape_of_a_well_filled_row():
    rng = np.random.default_rng(0)
    signal = np.concatenate([np.full(5000, 100.5), np.full(3, 150.5)])  # row 150: three pairs only
    observation = signal + rng.normal(0, 4, signal.size)
    model = from_pairs(signal, observation, value_range=(0.0, 256.0))
    # row 150 is row 100 moved by 50 bins, not three spikes
    np.testing.assert_allclose(model.probabilities[150, 50:], model.probabilities[100, :-50], atol=1e-15)


def test_rows_recover_gaussian_mean_and_sigma():
    sigma = 4.0
    model = gaussian_model(sigma)
    centres = model.signal_centres()
    for row in (40, 100, 180):
        p = model.probabilities[row]
        mean = (p * centres).sum()
        sd = np.sqrt((p * (centres - mean) ** 2).sum() - 1 / 12)  # minus the bin quantisation (width 1)
        assert mean == pytest.approx(centres[row], abs=0.2)
        assert sd == pytest.approx(sigma, rel=0.05)


def test_interpolation_linear_and_continuous_in_signal():
    model = gaussian_model()
    x = torch.tensor(100.3)
    d = model.densities()
    # halfway between the row centres 99.5 and 100.5: mean of the two rows (column 100)
    mid = model.likelihood(x, torch.tensor(100.0)).item()
    assert mid == pytest.approx(0.5 * (d[99, 100] + d[100, 100]), rel=1e-5)
    # continuous: tiny steps in s give tiny changes, also across a row centre
    s = torch.linspace(99.0, 101.0, 2001)
    p = model.likelihood(x.expand_as(s), s)
    assert torch.abs(torch.diff(p)).max().item() < 1e-3 * p.max().item()


def test_gradient_flows_to_signal():
    model = gaussian_model()
    s = torch.tensor([90.0, 110.0], requires_grad=True)
    model.log_likelihood(torch.tensor([100.0, 100.0]), s).sum().backward()
    assert s.grad[0] > 0 and s.grad[1] < 0  # both pulled towards the observation


def test_log_likelihood_finite_far_from_data_and_pulls_the_signal_towards_it():
    import math

    from noise2stack.noise.histogram import TAIL_WEIGHT, TAIL_WIDTH

    model = gaussian_model()
    signal = torch.tensor(25.0, requires_grad=True)
    value = model.log_likelihood(torch.tensor(250.0), signal)
    # outside the histogram's support only the broad tail remains: its value by hand
    width = TAIL_WIDTH * 256.0
    expected = math.log(TAIL_WEIGHT) - 0.5 * (225.0 / width) ** 2 - math.log(width * math.sqrt(2 * math.pi))
    assert torch.isfinite(value) and value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert signal.grad.item() == pytest.approx(225.0 / width**2, rel=1e-4)  # towards the observation
    # inside the support the tail changes nothing measurable
    inside = model.log_likelihood(torch.tensor(100.0), torch.tensor(101.0)).item()
    assert inside == pytest.approx(
        math.log(
            model.probabilities[100, 100] / model.bin_width * 0.5
            + model.probabilities[101, 100] / model.bin_width * 0.5
        ),
        abs=1e-3,
    )


def test_calibration_mean_is_signal():
    rng = np.random.default_rng(1)
    scene = np.tile(np.linspace(10, 200, 64), (32, 1))
    stack = scene + rng.normal(0, 3.0, size=(50, 32, 64))
    model = from_calibration(stack)
    assert model.provenance["made_from"] == "calibration" and model.provenance["planes"] == 50
    with pytest.raises(Noise2StackError, match="at least 2"):
        from_calibration(stack[:1])


def test_pairs_of_different_shapes_refused():
    with pytest.raises(Noise2StackError, match="must match"):
        from_pairs(np.zeros((4, 5)), np.zeros((5, 4)))


def test_save_load_round_trip(tmp_path):
    model = gaussian_model()
    model.save(tmp_path / "nm.npz")
    back = HistogramNoiseModel.load(tmp_path / "nm.npz")
    np.testing.assert_array_equal(back.probabilities, model.probabilities)
    assert (back.low, back.high) == (0.0, 256.0)
    assert back.provenance["made_from"] == "pairs"


def test_rescaled_gives_same_weights_in_network_units():
    model = gaussian_model()
    net = model.rescaled(offset=20.0, scale=0.01)
    raw = model.log_likelihood(torch.tensor(120.0), torch.tensor(117.3))
    units = net.log_likelihood(torch.tensor(1.0), torch.tensor(0.973))
    assert units.item() == pytest.approx(raw.item() - np.log(0.01), abs=1e-4)


@pytest.mark.parametrize(
    "content, message",
    [
        ("pickle", "pickled"),
        ("object", "pickled"),
        ("shape", "256x256"),
        ("negative", "negative"),
        ("nan", "NaN"),
    ],
)
def test_bad_files_refused(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    good = np.full((256, 256), 1 / 256)
    if content == "pickle":
        path.write_bytes(pickle.dumps({"probabilities": good}))
    elif content == "object":
        np.savez(path, probabilities=np.array([good], dtype=object), low=0.0, high=1.0)
    elif content == "shape":
        np.savez(path, probabilities=np.full((128, 256), 1 / 256), low=0.0, high=1.0)
    elif content == "negative":
        bad = good.copy()
        bad[3, :2] = [-1 / 256, 3 / 256]
        np.savez(path, probabilities=bad, low=0.0, high=1.0)
    else:
        bad = good.copy()
        bad[0, 0] = np.nan
        np.savez(path, probabilities=bad, low=0.0, high=1.0)
    with pytest.raises(Noise2StackError, match=message) as info:
        HistogramNoiseModel.load(path)
    assert "\n" not in str(info.value)


def test_plot_writes_png(tmp_path):
    plot(gaussian_model(), tmp_path / "nm.png")
    assert (tmp_path / "nm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
