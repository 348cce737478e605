"""The one tiler against an independent reference: the network's bare forward pass on each whole
plane (padded by hand to the pooling grid, cropped back), no tiler code involved.

The README promises that tiled prediction equals whole-plane prediction to 1e-5 of the maximum for
every tile size, overlap and plane size; these tests hold the tiler to that for both stitches, for
output scale 2, a head, joint channels, test-time augmentation and a subset of planes.
"""

import numpy as np
import pytest
import torch

from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.nets import build_net
from noise2stack.predict import PredictOptions, predict_stack
from noise2stack.predict.blend import blend_weights
from noise2stack.predict.grid import tile_starts, window_start
from noise2stack.predict.tiling import DIHEDRAL

TOLERANCE = 1e-5  # of the reference's maximum (README)


def bare(net, stack, neighbors, include_center, head=None):
    """Each plane through ``net`` in one piece: inputs reflect-padded at the bottom and right to a
    multiple of ``2**net.depth``, the output cropped to the plane (times the output scale).

    Returns (Z, Y*s, X*s), or (C, Z, Y*s, X*s) for several output channels.
    """
    align = 2**net.depth
    height, width = stack.shape[-2:]
    pad = ((0, 0), (0, -height % align), (0, -width % align))
    planes = []
    with torch.inference_mode():
        for z in range(stack.shape[0]):
            x = torch.from_numpy(np.pad(plane_inputs(stack, z, neighbors, include_center), pad, mode="reflect"))
            y = net(x[None])
            if head is not None:
                observed = np.pad(stack[z : z + 1].reshape(-1, height, width), pad, mode="reflect")
                y = head(y, torch.from_numpy(observed)[None])
            scale = y.shape[-1] // x.shape[-1]
            planes.append(y[0, :, : height * scale, : width * scale].numpy())
    out = np.stack(planes, axis=1)  # (C, Z, Y*s, X*s)
    return out[0] if out.shape[0] == 1 else out


def assert_matches(found, reference):
    assert found.shape == reference.shape
    assert np.abs(found - reference).max() <= TOLERANCE * np.abs(reference).max()


def _net(name, in_channels=3, residual=(1,), seed=1, **options):
    torch.manual_seed(seed)
    return build_net(name, in_channels, list(residual), **options).eval()


@pytest.fixture(scope="module")
def net():
    return _net("csbdeep-unet", seed=0)


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2v2-unet"])
@pytest.mark.parametrize("tile,overlap", [(32, 0), (64, 16), (96, 8)])
def test_blend_equals_the_bare_pass_for_small_tiles_and_odd_sizes(name, tile, overlap):
    net = _net(name)
    stack = np.random.default_rng(0).random((3, 203, 187)).astype(np.float32)
    tiled = predict_stack(net, stack, 2, True, tile=tile, overlap=overlap, batch=3)
    # a seam of the tiler before the halo was 0.6 % of the maximum
    assert_matches(tiled, bare(net, stack, 2, True))


@pytest.mark.parametrize("name,tile", [("csbdeep-unet", 64), ("csbdeep-unet", 88), ("n2v2-unet", 72)])
def test_cut_at_its_default_overlap_equals_the_bare_pass(name, tile):
    net = _net(name)
    stack = np.random.default_rng(1).random((2, 141, 123)).astype(np.float32)
    tiled = predict_stack(net, stack, 2, True, tile=tile, stitch="cut", batch=4)
    assert_matches(tiled, bare(net, stack, 2, True))


def test_cut_closer_than_the_context_shows_seams():
    net = _net("nrrn", residual=(), units=1)  # context 6 px, no pooling
    stack = np.random.default_rng(0).normal(size=(3, 50, 47)).astype(np.float32)
    reference = bare(net, stack, 2, True)
    assert_matches(predict_stack(net, stack, 2, True, tile=20, overlap=12, stitch="cut", batch=3), reference)
    too_small = predict_stack(net, stack, 2, True, tile=20, overlap=4, stitch="cut")
    assert np.abs(too_small - reference).max() > 1e-4


@pytest.mark.parametrize("stitch,tile,overlap", [("blend", 16, 0), ("blend", 28, 4), ("cut", 64, None)])
def test_output_scale_2_equals_the_bare_pass_of_a_super_resolving_net(stitch, tile, overlap):
    net = _net("n2sr-unet", in_channels=1, residual=())
    stack = np.random.default_rng(2).random((1, 99, 77)).astype(np.float32)
    tiled = predict_stack(net, stack, 0, True, tile=tile, overlap=overlap, stitch=stitch, output_scale=2, batch=3)
    assert tiled.shape == (1, 198, 154)
    assert_matches(tiled, bare(net, stack, 0, True))


def test_the_deep_net_with_its_158_px_context():
    # Table S2 net: 5 pooling levels; the plane is taller than one window (192 + 2 * 160 px)
    net = _net("n2n-unet", in_channels=1, residual=(0,))
    stack = np.random.default_rng(0).random((1, 530, 200)).astype(np.float32)
    assert_matches(predict_stack(net, stack, 0, True, tile=192, batch=2), bare(net, stack, 0, True))


def test_every_tile_on_the_grid(net):
    stack = np.random.default_rng(2).random((3, 53, 45)).astype(np.float32)
    reference = bare(net, stack, 2, True)
    for tile in (4, 8, 12, 20, 28, 44, 52):
        assert_matches(predict_stack(net, stack, 2, True, tile=tile, batch=5), reference)


@pytest.mark.parametrize("stitch,tile,overlap", [("blend", 24, 4), ("cut", 64, None)])
def test_self_mode_stack_ends(stitch, tile, overlap):
    net = _net("csbdeep-unet", in_channels=2, residual=(0, 1), seed=0)
    stack = np.random.default_rng(3).random((4, 70, 90)).astype(np.float32)
    tiled = predict_stack(net, stack, 2, False, tile=tile, overlap=overlap, stitch=stitch, batch=4)
    assert_matches(tiled, bare(net, stack, 2, False))


def test_a_head_sees_the_observed_plane_over_the_same_window():
    net = _net("csbdeep-unet", in_channels=1, residual=(), out_channels=3, seed=0)
    stack = np.random.default_rng(5).random((2, 50, 45)).astype(np.float32)

    def head(samples, observed):  # (B, 3, h, w), (B, 1, h, w) -> (B, 2, h, w): a mean and a weighted one
        weights = torch.softmax(-((samples - observed) ** 2), dim=1)
        return torch.stack([samples.mean(dim=1), (weights * samples).sum(dim=1)], dim=1)

    reference = bare(net, stack, 0, True, head=head)
    assert reference.shape == (2, 2, 50, 45)
    for stitch, tile, overlap in (("blend", 16, 4), ("cut", 64, None)):
        tiled = predict_stack(net, stack, 0, True, head=head, tile=tile, overlap=overlap, stitch=stitch, batch=3)
        assert_matches(tiled, reference)


@pytest.mark.parametrize("stitch,tile", [("blend", 16), ("cut", 64)])
def test_joint_channels(stitch, tile):
    net = _net("csbdeep-unet", in_channels=6, residual=(1,), out_channels=2, joint_channels=2, seed=3)
    stack = np.random.default_rng(6).random((4, 2, 67, 53)).astype(np.float32)  # (Z, C, Y, X)
    reference = bare(net, stack, 2, True)
    assert reference.shape == (2, 4, 67, 53)
    assert_matches(predict_stack(net, stack, 2, True, tile=tile, stitch=stitch, batch=2), reference)
    with pytest.raises(Noise2StackError, match="2 channels jointly"):
        predict_stack(net, stack[:, :1], 2, True)


def test_only_the_planes_asked_for(net):
    stack = np.random.default_rng(7).random((6, 45, 39)).astype(np.float32)
    tiled = predict_stack(net, stack, 2, True, tile=16, planes=[4, 1, 5])
    assert_matches(tiled, bare(net, stack, 2, True)[[4, 1, 5]])


def _views():
    """The 8 rotations and flips of the last two axes and their inverses, written out here."""
    for flip in (False, True):
        for k in range(4):

            def forward(a, k=k, flip=flip):
                return np.rot90(np.flip(a, -1) if flip else a, k, axes=(-2, -1))

            def inverse(a, k=k, flip=flip):
                back = np.rot90(a, -k, axes=(-2, -1))
                return np.flip(back, -1) if flip else back

            yield forward, inverse


@pytest.mark.parametrize("stitch,tile", [("blend", 24), ("cut", 64)])
def test_tta_is_the_mean_of_the_bare_pass_over_the_eight_views(net, stitch, tile):
    stack = np.random.default_rng(4).random((3, 40, 36)).astype(np.float32)
    reference = np.mean(
        [inverse(bare(net, np.ascontiguousarray(forward(stack)), 2, True)) for forward, inverse in _views()], axis=0
    )
    tta = predict_stack(net, stack, 2, True, tile=tile, stitch=stitch, tta=True)
    assert_matches(tta, reference)
    assert np.abs(tta - bare(net, stack, 2, True)).max() > 1e-4  # an untrained net is not rotation-invariant


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2v2-unet"])
def test_batch_norm_nets_tile_exactly_with_their_running_statistics(name):
    """Batch norm in eval mode is a fixed affine map per channel: tiled still equals the bare pass."""
    torch.manual_seed(2)
    net = build_net(name, 3, [1], batch_norm=True)
    with torch.no_grad():  # running statistics far from (0, 1), so the test sees them used
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    net.eval()
    stack = np.random.default_rng(3).random((3, 101, 77)).astype(np.float32)
    assert_matches(predict_stack(net, stack, 2, True, tile=32, overlap=0, batch=4), bare(net, stack, 2, True))
    plain = build_net(name, 3, [1])
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 10
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert set(plain.state_dict()) < set(net.state_dict())  # models without batch norm keep their names


def test_options_object_or_settings_not_both(net):
    stack = np.zeros((3, 8, 8), dtype=np.float32)
    with pytest.raises(TypeError):
        predict_stack(net, stack, 2, True, PredictOptions(tile=8), tile=16)
    with pytest.raises(Noise2StackError, match="`tile` must be at least 4 pixels"):
        predict_stack(net, stack, 2, True, tile=3)


def test_a_progress_callable_is_called_per_plane_and_draws_no_bar(net, capsys):
    stack = np.random.default_rng(0).random((3, 40, 36)).astype(np.float32)
    for stitch, tile in (("blend", 16), ("cut", 64)):
        calls: list = []
        predict_stack(
            net, stack, 2, True, tile=tile, stitch=stitch, progress=lambda *args, seen=calls: seen.append(args)
        )
        assert calls == [(1, 3), (2, 3), (3, 3)]
    assert "denoising" not in capsys.readouterr().err


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
