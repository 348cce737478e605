"""Time-lapse fidelity by value: tSNR, ΔF/F traces, residual whiteness, spikes, the synthetic movie."""

import numpy as np
import pytest
from scipy import ndimage

from noise2stack.metrics.temporal import (
    delta_f_over_f,
    detect_spikes,
    find_regions,
    region_traces,
    residual_whiteness,
    spike_scores,
    temporal_snr,
    trace_correlations,
)
from noise2stack.noise.calcium import calcium_movie


def test_temporal_snr_is_mean_over_std_along_t():
    stack = np.zeros((4, 2, 3))
    stack[:, 0, 0] = [1, 3, 1, 3]  # mean 2, std 1
    stack[:, 1, 2] = 5.0  # constant
    tsnr = temporal_snr(stack)
    assert tsnr[0, 0] == pytest.approx(2.0) and np.isinf(tsnr[1, 2])


def test_delta_f_over_f_by_hand():
    trace = np.array([[2.0] * 9 + [4.0]])  # baseline (10th percentile) 2
    np.testing.assert_allclose(delta_f_over_f(trace), [[0.0] * 9 + [1.0]])


def test_regions_and_their_traces():
    image = np.zeros((20, 20))
    image[2:6, 2:6] = 10.0  # 16 px: kept
    image[12:14, 12:14] = 10.0  # 4 px: dropped
    labels = find_regions(image)
    assert labels.max() == 1 and (labels == 1).sum() == 16
    stack = np.stack([image * k for k in (1.0, 2.0)])
    np.testing.assert_allclose(region_traces(stack, labels), [[10.0, 20.0]])


def test_residual_whiteness_tells_noise_from_removed_signal():
    rng = np.random.default_rng(0)
    white = rng.normal(size=(40, 48, 48))
    # along T each pixel's mean over the 40 frames is removed first: expect about -1/40 there
    assert all(abs(v) < 0.05 for v in residual_whiteness(white, np.zeros_like(white)).values())
    smooth = ndimage.gaussian_filter(white, 2.0)  # a residual with structure in T, Y and X
    assert all(v > 0.8 for v in residual_whiteness(smooth, np.zeros_like(smooth)).values())


def test_spikes_of_the_clean_movie_are_found_and_scored():
    movie = calcium_movie(seed=3)
    assert movie.clean.shape == movie.noisy.shape == (200, 64, 64) and movie.clean.max() == 1.0
    traces = delta_f_over_f(region_traces(movie.clean, movie.labels))
    hits = detected = true = 0
    for r, trace in enumerate(traces):
        h, d, t = spike_scores(detect_spikes(trace), movie.spikes[r])
        hits, detected, true = hits + h, detected + d, true + t
    assert true > 40 and hits / true > 0.8 and hits / detected > 0.9
    assert spike_scores(np.array([10, 30]), np.array([11, 50, 52])) == (1, 2, 3)


def test_the_movie_is_seeded_and_traces_correlate_with_themselves():
    a, b = calcium_movie(frames=30, side=32, seed=1), calcium_movie(frames=30, side=32, seed=1)
    np.testing.assert_array_equal(a.noisy, b.noisy)
    assert all(r == pytest.approx(1.0) for r in trace_correlations(a.clean, a.clean, a.labels) if r is not None)
