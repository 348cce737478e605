"""Stitching by cutting the overlaps: each pixel from exactly one tile, cut in the overlap's middle."""

import numpy as np
import torch

from noise2stack.nets import build_net
from noise2stack.predict.cut import cut_bounds, predict_stack_cut
from noise2stack.predict.tiling import predict_stack, tile_starts


def test_cut_bounds_partition_at_the_middle_of_each_overlap():
    starts = tile_starts(100, 40, 20, 1)  # [0, 20, 40, 60]
    assert starts == [0, 20, 40, 60]
    assert cut_bounds(starts, 40, 100) == [(0, 30), (30, 50), (50, 70), (70, 100)]
    assert cut_bounds([0], 40, 40) == [(0, 40)]


def test_cut_equals_whole_plane_with_overlap_twice_the_context():
    torch.manual_seed(0)
    net = build_net("nrrn", 3, units=1).eval()  # context 6
    stack = np.random.default_rng(0).normal(size=(3, 50, 47)).astype(np.float32)
    whole = predict_stack(net, stack, 2, True, tile=512)
    cut = predict_stack_cut(net, stack, 2, True, tile=20, overlap=12, batch=3)
    np.testing.assert_allclose(cut, whole, atol=1e-5)
    too_small = predict_stack_cut(net, stack, 2, True, tile=20, overlap=4)
    assert np.abs(too_small - whole).max() > 1e-4  # a cut closer than the context to a tile edge shows


def test_a_progress_callable_is_called_per_plane_and_draws_no_bar(capsys):
    from noise2stack.nets import build_net
    from noise2stack.predict.cut import predict_stack_cut

    net = build_net("csbdeep-unet", 2)
    stack = np.random.default_rng(0).random((3, 40, 36)).astype(np.float32)
    calls = []
    predict_stack_cut(
        net, stack, 2, False, tile=16, overlap=4, progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1] == (3, 3) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert "denoising" not in capsys.readouterr().err
