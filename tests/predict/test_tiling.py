import numpy as np
import pytest
import torch

from noise2stack.nets import build_net
from noise2stack.predict import blend_weights, predict_stack, tile_starts
from noise2stack.predict.tiling import DIHEDRAL, window_start


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_net("csbdeep-unet", 3, [1]).eval()


def _whole_plane(net, stack, neighbors, include_center):
    """The reference: every plane through the network in one piece, no tiler."""
    from noise2stack.data.sampler import plane_inputs

    with torch.inference_mode():
        return np.stack(
            [
                net(torch.from_numpy(plane_inputs(stack, z, neighbors, include_center)[None]))[0, 0].numpy()
                for z in range(stack.shape[0])
            ]
        )


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2v2-unet"])
@pytest.mark.parametrize("tile,overlap", [(32, 0), (64, 16), (96, 8)])
def test_tiled_equals_whole_plane_for_small_tiles_and_odd_sizes(name, tile, overlap):
    torch.manual_seed(1)
    net = build_net(name, 3, [1]).eval()
    stack = np.random.default_rng(0).random((3, 203, 187)).astype(np.float32)
    whole = _whole_plane(net, stack, 2, True)
    tiled = predict_stack(net, stack, 2, True, tile=tile, overlap=overlap, batch=3)
    assert tiled.shape == whole.shape
    # float rounding only: a seam of the old tiler was 0.6 % of the maximum
    assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max()


def test_tiled_equals_whole_plane_for_the_deep_net():
    # Table S2 net: 5 pooling levels, context 158 px; the plane is taller than one window
    # (192 + 2 * 160 px), so it is cut into 3 cores along Y
    torch.manual_seed(1)
    net = build_net("n2n-unet", 1, [0]).eval()
    stack = np.random.default_rng(0).random((1, 530, 200)).astype(np.float32)
    whole = _whole_plane(net, stack, 0, True)
    tiled = predict_stack(net, stack, 0, True, tile=192, batch=2)
    assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max()


def test_tiled_equals_untiled_for_every_tile_on_the_grid(net):
    stack = np.random.default_rng(2).random((3, 77, 61)).astype(np.float32)
    whole = predict_stack(net, stack, 2, True, tile=1024)
    for tile in (4, 8, 12, 20, 28, 44, 60, 76):
        tiled = predict_stack(net, stack, 2, True, tile=tile, batch=5)
        assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max(), tile


def test_self_mode_stack_ends_are_exact_too(net):
    torch.manual_seed(0)
    self_net = build_net("csbdeep-unet", 2, [0, 1]).eval()
    stack = np.random.default_rng(3).random((4, 70, 90)).astype(np.float32)
    whole = _whole_plane(self_net, stack, 2, False)
    tiled = predict_stack(self_net, stack, 2, False, tile=24, overlap=4, batch=4)
    assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max()


def test_tile_starts_are_aligned_and_cover():
    starts = tile_starts(300, 128, 64, 4)
    assert starts[0] == 0 and starts[-1] == 300 - 128
    assert all(s % 4 == 0 for s in starts)
    assert all(b - a <= 128 - 64 for a, b in zip(starts, starts[1:]))


def test_windows_hold_the_core_and_its_halo():
    # a core at 40 with a halo of 24 in a 112 window on a 200 px axis starts at 16
    assert window_start(40, 24, 112, 200) == 16
    # near the borders the window shifts inwards, keeping at least the halo around the core
    assert window_start(0, 24, 112, 200) == 0
    assert window_start(160, 24, 112, 200) == 88 and 88 + 112 == 200


def test_blend_weights_by_hand():
    w = blend_weights(16, start=8, length=40, ramp=4)
    np.testing.assert_allclose(w[:5], [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(w[-5:], [1.0, 0.8, 0.6, 0.4, 0.2])
    np.testing.assert_allclose(blend_weights(16, 0, 16, 4), np.ones(16))
    np.testing.assert_allclose(blend_weights(16, 8, 40, 0), np.ones(16))


def test_dihedral_views_are_undone_exactly():
    a = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    views = [forward(a) for forward, _ in DIHEDRAL]
    assert len({v.tobytes() + bytes(v.shape) for v in views}) == 8  # 8 different views
    for forward, inverse in DIHEDRAL:
        np.testing.assert_array_equal(inverse(forward(a)), a)


def test_tta_is_the_mean_of_the_eight_views(net):
    stack = np.random.default_rng(4).random((3, 40, 36)).astype(np.float32)
    expected = np.mean(
        [inverse(predict_stack(net, np.ascontiguousarray(forward(stack)), 2, True)) for forward, inverse in DIHEDRAL],
        axis=0,
    )
    plain = predict_stack(net, stack, 2, True)
    tta = predict_stack(net, stack, 2, True, tta=True)
    np.testing.assert_allclose(tta, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(tta - plain).max() > 1e-4  # an untrained net is not rotation-invariant


def test_head_and_output_scale():
    torch.manual_seed(0)
    net = build_net("csbdeep-unet", 1, []).eval()
    stack = np.random.default_rng(5).random((2, 50, 44)).astype(np.float32)

    def head(net_out, observed):  # two channels at twice the resolution
        both = torch.cat([net_out, observed], dim=1)
        return torch.nn.functional.interpolate(both, scale_factor=2.0, mode="nearest")

    whole = predict_stack(net, stack, 0, True, head=head, out_channels=2, output_scale=2)
    tiled = predict_stack(net, stack, 0, True, head=head, out_channels=2, output_scale=2, tile=16, overlap=4, batch=3)
    assert whole.shape == (2, 2, 100, 88)
    np.testing.assert_array_equal(whole[1], np.repeat(np.repeat(stack, 2, axis=1), 2, axis=2))
    assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max()


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2v2-unet"])
def test_batch_norm_nets_tile_exactly_with_their_running_statistics(name):
    """Batch norm in eval mode is a fixed affine map per channel: tiled still equals whole-plane."""
    torch.manual_seed(2)
    net = build_net(name, 3, [1], batch_norm=True)
    with torch.no_grad():  # running statistics far from (0, 1), so the test sees them used
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    net.eval()
    stack = np.random.default_rng(3).random((3, 101, 77)).astype(np.float32)
    whole = _whole_plane(net, stack, 2, True)
    tiled = predict_stack(net, stack, 2, True, tile=32, overlap=0, batch=4)
    assert np.abs(tiled - whole).max() <= 1e-5 * np.abs(whole).max()
    plain = build_net(name, 3, [1])
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 10
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert set(plain.state_dict()) < set(net.state_dict())  # models without batch norm keep their names
