"""Stack analysis by value: noise-corrected predictability against the clean stack, noise correlation,
Poisson-Gaussian fit, and the recommendation rules."""

import numpy as np
import pytest
from scipy import ndimage

from noise2stack.methods.advice import blindspot_shape, recommend
from noise2stack.metrics.stack_analysis import (
    CORRELATED_IN_PLANE,
    analyze_stack,
    fit_poisson_gaussian,
    highpass_residual,
    in_plane_autocorrelation,
    robust_correlation,
)


def random_field(n_planes=24, side=96, sigma_z=2.0, sigma_yx=3.0, seed=0):
    """A smooth positive ZYX stack (range ~10..210); ``sigma_z=0`` makes the planes unrelated."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(n_planes, side, side)), (sigma_z, sigma_yx, sigma_yx))
    field = (field - field.min()) / (field.max() - field.min())
    return 10 + 200 * field


def clean_predictability_db(clean, d):
    """The definition on the clean stack, over all pairs (i, i + d): best scaled prediction of plane i."""
    var_sum = resid_sum = 0.0
    for i in range(clean.shape[0] - d):
        a, b = clean[i] - clean[i].mean(), clean[i + d] - clean[i + d].mean()
        var_a, var_b, cov = a.var(), b.var(), np.mean(a * b)
        var_sum += var_a
        resid_sum += var_a - cov * cov / var_b
    return 10 * np.log10(var_sum / resid_sum)


def test_highpass_residual_keeps_white_noise_variance_and_removes_ramps():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3.0, size=(300, 300))
    y, x = np.mgrid[:300, :300]
    ramp = 0.7 * y + 0.2 * x + 0.01 * y * y  # linear plus quadratic in y only: annihilated
    assert np.allclose(highpass_residual(ramp), 0, atol=1e-9)
    assert highpass_residual(noise + ramp).var() == pytest.approx(9.0, rel=0.03)


def test_predictability_estimate_matches_clean_value_within_1_db():
    clean = random_field()
    noisy = clean + np.random.default_rng(5).normal(0, 20.0, size=clean.shape)  # SNR about -0.6 dB
    result = analyze_stack(noisy, max_pairs=100)
    clean_values = {d: clean_predictability_db(clean, d) for d in (1, 2, 3)}
    # Measured once: clean 10.0, 4.4, 1.9 dB; the uncorrected values are 0.9, 0.6, 0.3 dB.
    assert clean_values[1] > clean_values[2] > clean_values[3] > 1
    for d in (1, 2, 3):
        assert result["neighbor_predictability_db"][d] == pytest.approx(clean_values[d], abs=1.0)
        assert result["neighbor_predictability_raw_db"][d] < clean_values[d] - 1.5
    assert result["noise"]["variance"] == pytest.approx(400.0, rel=0.1)
    assert abs(result["noise_correlation"]) < 0.05


def test_predictability_with_copy_uses_the_difference():
    clean = random_field(seed=2)
    rng = np.random.default_rng(3)
    noisy, copy = (clean + rng.normal(0, 20.0, size=clean.shape) for _ in range(2))
    result = analyze_stack(noisy, copy, max_pairs=100)
    assert result["noise"]["source"] == "copy"
    assert result["noise"]["variance"] == pytest.approx(400.0, rel=0.05)
    assert result["neighbor_predictability_db"][1] == pytest.approx(clean_predictability_db(clean, 1), abs=1.0)
    assert abs(result["copy_noise_correlation"]) < 0.05
    assert recommend(result, has_copy=True) == {**recommend(result, has_copy=True), "method": "n2stack", "mode": "copy"}


def test_correlated_noise_between_planes_is_measured_and_flagged():
    clean = random_field(seed=4)
    white = np.random.default_rng(6).normal(0, 20.0, size=clean.shape)
    # Smoothing white noise along Z only (sigma 1 plane): lag-1 correlation exp(-1/4) = 0.78.
    correlated = ndimage.gaussian_filter1d(white, 1.0, axis=0)
    result = analyze_stack(clean + correlated)
    assert result["noise_correlation"] == pytest.approx(np.exp(-0.25), abs=0.08)
    assert result["noise_correlation_by_distance"][2] == pytest.approx(np.exp(-1.0), abs=0.08)
    rec = recommend(result, has_copy=False)
    assert rec["method"] == "n2v" and "correlated" in rec["reason"]


def test_unrelated_planes_give_n2v_and_related_planes_n2stack_self():
    unrelated = random_field(sigma_z=0.0, seed=7)
    noise = np.random.default_rng(8).normal(0, 5.0, size=unrelated.shape)
    result = analyze_stack(unrelated + noise)
    assert result["neighbor_predictability_db"][1] < 0.5
    rec = recommend(result, has_copy=False)
    assert rec["method"] == "n2v" and "too unlike" in rec["reason"]

    related = analyze_stack(random_field(sigma_z=4.0, seed=7) + noise)
    rec = recommend(related, has_copy=False)
    assert (rec["method"], rec["mode"], rec["neighbors"]) == ("n2stack", "self", 4)


def test_poisson_gaussian_fit_recovers_gain_and_read_noise():
    clean = random_field(n_planes=12, side=128, seed=9) * 5  # 50..1050 image units
    rng = np.random.default_rng(10)
    gain, read_sigma = 4.0, 6.0
    noisy = gain * rng.poisson(clean / gain) + rng.normal(0, read_sigma, size=clean.shape)
    noise = analyze_stack(noisy)["noise"]
    assert noise["fits"]
    assert noise["gain"] == pytest.approx(gain, rel=0.1)
    assert noise["read_noise_variance"] == pytest.approx(read_sigma**2, abs=25.0)


def test_fit_says_no_when_variance_does_not_follow_a_line():
    bins = [(float(m), float(v), 100) for m, v in zip(range(10), [5, 50, 1, 60, 2, 70, 3, 40, 1, 55])]
    assert fit_poisson_gaussian(bins)["fits"] is False
    flat = [(float(m), 9.0, 100) for m in range(10)]
    fit = fit_poisson_gaussian(flat)
    assert (
        fit["fits"] and fit["gain"] == pytest.approx(0.0, abs=1e-9) and fit["read_noise_variance"] == pytest.approx(9.0)
    )


def test_robust_correlation_ignores_sparse_outliers():
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=100_000), rng.normal(size=100_000)
    a[:500] = b[:500] = 1000.0  # shared "edges": Pearson would say ~1
    assert np.corrcoef(a, b)[0, 1] > 0.9
    assert abs(robust_correlation(a, b)) < 0.03


def test_single_plane_recommends_n2v():
    result = analyze_stack(random_field(n_planes=1))
    assert result["noise_correlation"] is None and result["neighbor_predictability_db"][1] is None
    assert recommend(result, has_copy=False)["method"] == "n2v"


@pytest.mark.parametrize("axis", ["x", "y"])
def test_in_plane_autocorrelation_by_value(axis):
    """Noise smoothed by a 3-pixel box along one axis correlates 2/3, 1/3, 0, 0 at lags 1-4 along it
    and 0 across it, on signal that varies over about 8 pixels. (On a field of 3 px the residual
    across the noise's axis, which damps that noise, shows the signal's curvature instead: 0.34 at
    lag 1; the advice then keeps the dominant axis, see test_blindspot_shape_rules.)"""
    rng = np.random.default_rng(8)
    planes = []
    for _ in range(4):
        noise = ndimage.uniform_filter1d(rng.normal(0, 5, size=(160, 160)), 3, axis=1 if axis == "x" else 0)
        planes.append(random_field(1, 160, sigma_yx=8.0, seed=int(rng.integers(99)))[0] + noise)
    result = in_plane_autocorrelation(planes)
    other = "y" if axis == "x" else "x"
    for lag, expected in zip((1, 2, 3, 4), (2 / 3, 1 / 3, 0.0, 0.0)):
        assert result[axis][lag] == pytest.approx(expected, abs=0.06), lag
        assert abs(result[other][lag]) < 0.06, lag
    assert blindspot_shape(result) == ({"x": "horizontal", "y": "vertical"}[axis], 5)
    white = in_plane_autocorrelation([p - ndimage.uniform_filter1d(p, 1) + rng.normal(0, 5, p.shape) for p in planes])
    assert all(abs(r) < 0.06 for values in white.values() for r in values.values())


def test_in_plane_autocorrelation_from_a_copy_is_that_of_the_difference():
    rng = np.random.default_rng(9)
    clean = random_field(2, 128)
    row = [ndimage.uniform_filter1d(rng.normal(0, 5, size=(2, 128, 128)), 3, axis=2) for _ in range(2)]
    result = in_plane_autocorrelation(list(clean + row[0]), list(clean + row[1]))
    assert result["x"][1] == pytest.approx(2 / 3, abs=0.06) and abs(result["y"][1]) < 0.06


def test_blindspot_shape_rules():
    def shape(y, x):
        return blindspot_shape({"y": dict(enumerate(y, 1)), "x": dict(enumerate(x, 1))})

    t = CORRELATED_IN_PLANE
    assert shape([0.5 * t, 0.0], [0.9 * t, 0.0]) == ("pixel", 1)
    assert shape([0.0, 0.0], [6 * t, 3 * t, 2 * t, 0.5 * t]) == ("horizontal", 7)  # lags 1-3 reach t
    assert shape([5 * t, 0.5 * t], [0.0, 0.0]) == ("vertical", 3)
    assert shape([5 * t, 3 * t], [4 * t, 0.5 * t]) == ("both", 5)
    assert shape([2.5 * t, 0.0], [7 * t, 2 * t]) == ("horizontal", 5)  # the weaker axis below half the stronger
    assert shape([None, None], [None]) == ("pixel", 1)
