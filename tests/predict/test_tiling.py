import numpy as np
import pytest
import torch

from noise2stack.nets import build_net
from noise2stack.predict import blend_weights, predict_stack, tile_starts
from noise2stack.predict.tiling import split_overlap


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_net("csbdeep-unet", 3, [1]).eval()


def test_tiled_equals_untiled(net):
    stack = np.random.default_rng(0).random((3, 301, 277)).astype(np.float32)
    whole = predict_stack(net, stack, 2, True, tile=1024)
    tiled = predict_stack(net, stack, 2, True, tile=128, batch=3)
    assert np.abs(tiled - whole).max() <= 1e-4 * np.abs(whole).max()


def test_small_overlap_leaves_no_step_at_seams(net):
    # a smooth image: any seam would show as a jump between neighbouring columns
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    plane = (np.sin(3 * xx) + np.cos(2 * yy)).astype(np.float32)
    stack = np.stack([plane, plane * 0.9, plane * 1.1])
    whole = predict_stack(net, stack, 2, True, tile=1024)[1]
    tiled = predict_stack(net, stack, 2, True, tile=96, overlap=16)[1]
    step_tiled = np.abs(np.diff(tiled, axis=1)).max()
    step_whole = np.abs(np.diff(whole, axis=1)).max()
    assert step_tiled <= 1.05 * step_whole
    assert np.abs(tiled - whole).max() < 1e-2 * np.ptp(whole)


def test_tile_starts_are_aligned_and_cover():
    starts = tile_starts(300, 128, 64, 4)
    assert starts[0] == 0 and starts[-1] == 300 - 128
    assert all(s % 4 == 0 for s in starts)
    assert all(b - a <= 128 - 64 for a, b in zip(starts, starts[1:]))


def test_blend_weights_by_hand():
    discard, ramp = split_overlap(8, context=2)
    assert (discard, ramp) == (2, 4)
    w = blend_weights(16, start=8, length=40, discard=discard, ramp=ramp)
    np.testing.assert_allclose(w[:6], [0, 0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_allclose(w[-6:], [0.8, 0.6, 0.4, 0.2, 0, 0])
    np.testing.assert_allclose(blend_weights(16, 0, 16, discard, ramp), np.ones(16))
