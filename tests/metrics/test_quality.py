import numpy as np
import pytest
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from noise2stack.metrics import care_normalize, evaluate_stack, plane_metrics


def test_psnr_by_hand():
    ref = np.linspace(0, 1, 64).reshape(8, 8)
    pred = ref + 0.1  # MSE 0.01, data range 1 -> 10 log10(1 / 0.01) = 20 dB
    assert plane_metrics(pred, ref)["psnr"] == pytest.approx(20.0)
    # NRMSE (Euclidean): ||pred - ref|| / ||ref|| = 0.1 * 8 / ||ref||
    assert plane_metrics(pred, ref)["nrmse"] == pytest.approx(0.8 / np.linalg.norm(ref))


def test_equal_to_scikit_image():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 500, (3, 40, 30))
    pred = ref + rng.normal(0, 20, ref.shape)
    result = evaluate_stack(pred, ref)
    for z in range(3):
        dr = ref[z].max() - ref[z].min()
        p = result["per_plane"][z]
        assert p["psnr"] == pytest.approx(peak_signal_noise_ratio(ref[z], pred[z], data_range=dr), rel=1e-12)
        assert p["ssim"] == pytest.approx(structural_similarity(ref[z], pred[z], data_range=dr), rel=1e-12)
        assert p["nrmse"] == pytest.approx(normalized_root_mse(ref[z], pred[z]), rel=1e-12)
    assert result["psnr"] == pytest.approx(np.mean([p["psnr"] for p in result["per_plane"]]))


def test_care_normalisation_recovers_a_known_affine_map():
    rng = np.random.default_rng(1)
    ref = rng.gamma(2.0, 50.0, (32, 32))
    low, high = np.percentile(ref, (0.1, 99.9))
    ref_n = (ref - low) / (high - low)
    pred = 3.0 * ref_n + 7.0  # any affine distortion of the truth
    scaled, ref_out = care_normalize(pred, ref)
    np.testing.assert_allclose(ref_out, ref_n, rtol=1e-12)
    np.testing.assert_allclose(scaled, ref_n, atol=1e-9)
    m = plane_metrics(pred, ref, "care")
    assert m["nrmse"] < 1e-8 and m["ssim"] == pytest.approx(1.0)


def test_care_uses_data_range_one():
    rng = np.random.default_rng(2)
    ref = rng.uniform(0, 1000, (16, 16))
    pred = ref + rng.normal(0, 50, ref.shape)
    scaled, ref_n = care_normalize(pred, ref)
    expected = peak_signal_noise_ratio(ref_n, scaled, data_range=1.0)
    assert plane_metrics(pred, ref, "care")["psnr"] == pytest.approx(expected)
