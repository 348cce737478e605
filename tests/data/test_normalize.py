import numpy as np
import pytest

from noise2stack.data.normalize import Normalizer, fit_normalizer
from noise2stack.errors import Noise2StackError


def test_percentile_maps_to_unit_range_and_back():
    rng = np.random.default_rng(0)
    stack = rng.uniform(100, 1100, size=(4, 20, 20)).astype(np.float32)
    norm = fit_normalizer([stack], "percentile", (3.0, 99.8))
    low, high = np.percentile(stack, (3.0, 99.8))
    assert norm.low_value == pytest.approx(low)
    assert norm.high_value == pytest.approx(high)
    n = norm.normalize(stack)
    assert np.percentile(n, 3.0) == pytest.approx(0.0, abs=1e-5)
    assert np.percentile(n, 99.8) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(norm.denormalize(n), stack, rtol=1e-5)


def test_minmax_to_minus_half_half():
    stack = np.array([[[2.0, 4.0], [6.0, 10.0]]], dtype=np.float32)
    norm = fit_normalizer([stack], "minmax")
    np.testing.assert_allclose(norm.normalize(stack), [[[-0.5, -0.25], [0.0, 0.5]]])


def test_meanstd_gives_zero_mean_unit_std_by_hand():
    stack = np.array([[[1.0, 3.0], [5.0, 7.0]]], dtype=np.float32)  # mean 4, std sqrt(5)
    norm = fit_normalizer([stack], "meanstd")
    np.testing.assert_allclose(norm.normalize(stack), [[[-3, -1], [1, 3]]] / np.sqrt(5), rtol=1e-6)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(stack)), stack, rtol=1e-6)
    assert Normalizer.from_dict(norm.to_dict()) == norm


def test_background_is_median_over_planes_and_added_back():
    pattern = np.arange(12, dtype=np.float32).reshape(3, 4)
    stack = np.stack([pattern + v for v in (0.0, 5.0, 100.0)])
    norm = fit_normalizer([stack], "percentile", background=True)
    np.testing.assert_allclose(norm.background, pattern + 5.0)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(stack)), stack, rtol=1e-5, atol=1e-4)
    restored = Normalizer.from_dict(norm.to_dict(), norm.background)
    np.testing.assert_array_equal(restored.normalize(stack), norm.normalize(stack))


def test_constant_data_is_refused():
    with pytest.raises(Noise2StackError, match="constant"):
        fit_normalizer([np.ones((3, 5, 5), np.float32)])


def test_per_channel_statistics_map_each_channel_alone_and_round_trip():
    from noise2stack.data.normalize import fit_channel_normalizer

    rng = np.random.default_rng(1)
    zcyx = np.stack([rng.uniform(0, 10, (5, 12, 12)), rng.uniform(1000, 5000, (5, 12, 12))], axis=1).astype(np.float32)
    norm = fit_channel_normalizer([zcyx], "percentile", (3.0, 99.8))
    for c in range(2):
        low, high = np.percentile(zcyx[:, c], (3.0, 99.8))
        assert norm.low_value[c] == pytest.approx(low) and norm.high_value[c] == pytest.approx(high)
        np.testing.assert_allclose(norm.normalize(zcyx)[:, c], (zcyx[:, c] - low) / (high - low), rtol=1e-5, atol=1e-6)
        assert norm.channel(c).scale == pytest.approx(1 / (high - low))
    np.testing.assert_allclose(norm.denormalize(norm.normalize(zcyx)), zcyx, rtol=1e-5)
    again = Normalizer.from_dict(norm.to_dict())
    assert again == norm
    with pytest.raises(Noise2StackError, match="2 channels"):
        norm.normalize(zcyx[:, :1])
