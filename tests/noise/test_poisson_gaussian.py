import numpy as np
import pytest

from noise2stack.errors import Noise2StackError
from noise2stack.noise import add_noise
from noise2stack.noise.poisson_gaussian import estimate, estimate_model, to_histogram


def synthetic_scene(seed=0):
    """Flat 16x16 tiles at random levels plus a ramp: 8 planes of 256x256, values 0..1000.

    The read noise shows only where ``gain * s`` is small, so the scene reaches down to 0.
    """
    rng = np.random.default_rng(seed)
    tiles = rng.uniform(0, 1000, size=(8, 16, 16))
    scene = np.kron(tiles, np.ones((16, 16)))
    yy, xx = np.mgrid[0:256, 0:256]
    scene[:, :128, :128] = 50 + 3.5 * xx[:128, :128]  # a ramp: not flat, must not bias the fit
    return scene


# The read variance is identifiable only where it is not swamped by gain * s at the darkest levels
# (the intercept of the fit); these cases keep sigma² >= gain * 20.
@pytest.mark.parametrize("peak, sigma", [(100.0, 20.0), (30.0, 30.0), (300.0, 8.0)])
def test_recovers_gain_and_read_noise_within_ten_percent(peak, sigma):
    clean = synthetic_scene()
    noisy = add_noise(clean, "poisson-gaussian", sigma=sigma, peak=peak, seed=1)
    true_gain = clean.max() / peak  # add_noise: counts = s * peak / max, var = s * max / peak
    fit = estimate(noisy)
    assert fit["gain"] == pytest.approx(true_gain, rel=0.10)
    assert fit["read_variance"] == pytest.approx(sigma**2, rel=0.10)


def test_histogram_rows_have_the_fitted_variance():
    model = to_histogram(gain=2.0, read_variance=25.0, value_range=(0.0, 512.0))
    centres = model.signal_centres()
    row = 128  # centre 256.5
    p = model.probabilities[row]
    mean = (p * centres).sum()
    var = (p * (centres - mean) ** 2).sum() - (2.0**2) / 12
    assert mean == pytest.approx(centres[row], abs=0.05)
    assert var == pytest.approx(2.0 * centres[row] + 25.0, rel=0.02)


def test_estimate_model_records_parameters():
    clean = synthetic_scene()
    noisy = add_noise(clean, "poisson-gaussian", sigma=20.0, peak=100.0, seed=2)
    model = estimate_model(noisy)
    assert model.provenance["made_from"] == "poisson-gaussian"
    assert model.provenance["gain"] == pytest.approx(10.0, rel=0.1)
    assert model.low <= noisy.min() and model.high >= noisy.max()


def test_tiny_planes_refused():
    with pytest.raises(Noise2StackError, match="at least 16x16"):
        estimate(np.zeros((2, 8, 8)))


def test_histogram_rows_are_the_exact_poisson_gaussian_at_few_photons():
    """At 1.5 photons with read noise narrower than a photon, p(x | s) is a skewed comb.

    The row must match sampled noise (total variation < 0.05); the Gaussian of the same mean and
    variance, which the model was before, is 0.4 away from it.
    """
    gain, read_variance, signal = 20.0, 4.0, 30.0
    model = to_histogram(gain, read_variance, value_range=(-32.0, 224.0))
    rng = np.random.default_rng(0)
    samples = gain * rng.poisson(signal / gain, 200_000) + rng.normal(0, read_variance**0.5, 200_000)
    sampled = np.histogram(samples, bins=256, range=(-32.0, 224.0))[0] / samples.size
    row = model.probabilities[int(signal + 32)]  # bins of width 1 from -32: centre 30.5
    assert 0.5 * np.abs(row - sampled).sum() < 0.05
    centres = model.signal_centres()
    gaussian = np.exp(-((centres - signal) ** 2) / (2 * (gain * signal + read_variance)))
    assert 0.5 * np.abs(gaussian / gaussian.sum() - sampled).sum() > 0.3
