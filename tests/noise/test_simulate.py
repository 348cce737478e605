import numpy as np
import pytest

from noise2stack.errors import Noise2StackError
from noise2stack.noise import add_noise


def test_gaussian_sigma_in_image_units():
    clean = np.full((4, 100, 100), 50.0, np.float32)
    noisy = add_noise(clean, "gaussian", sigma=7.0, seed=1)
    assert noisy.dtype == np.float32
    assert noisy.std() == pytest.approx(7.0, rel=0.02)
    assert noisy.mean() == pytest.approx(50.0, abs=0.1)


def test_poisson_peak_sets_photon_count():
    # constant 200 with peak 8: counts ~ Poisson(8), image = counts * 25, variance 8 * 25^2
    clean = np.full((4, 100, 100), 200.0)
    noisy = add_noise(clean, "poisson", peak=8, seed=2)
    assert noisy.mean() == pytest.approx(200.0, rel=0.01)
    assert noisy.var() == pytest.approx(8 * 25.0**2, rel=0.03)
    np.testing.assert_allclose(np.mod(noisy, 25.0), 0, atol=1e-3)


def test_poisson_gaussian_adds_both_variances():
    clean = np.full((4, 100, 100), 100.0)
    noisy = add_noise(clean, "poisson-gaussian", peak=25, sigma=10, seed=3)
    assert noisy.var() == pytest.approx(25 * 4.0**2 + 100, rel=0.03)


def test_seeded():
    clean = np.random.default_rng(0).uniform(0, 10, (2, 8, 8))
    a = add_noise(clean, "poisson-gaussian", peak=5, sigma=1, seed=7)
    b = add_noise(clean, "poisson-gaussian", peak=5, sigma=1, seed=7)
    c = add_noise(clean, "poisson-gaussian", peak=5, sigma=1, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs", [{"noise": "poisson"}, {"noise": "gaussian"}, {"noise": "speckle", "sigma": 1}])
def test_missing_parameters(kwargs):
    with pytest.raises(Noise2StackError):
        add_noise(np.ones((2, 4, 4)), **kwargs)
