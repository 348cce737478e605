"""The blind-spot Noise2Stack net: plane i's own pixel (or line) never reaches its prediction.

Proved on the bare network with the full Jacobian (every output pixel against every input pixel of
plane i), and through the tiler twice: the tiled prediction equals the bare pass, and perturbing
plane i at a pixel leaves the tiled output there unchanged.
"""

import typing

import numpy as np
import pytest
import torch

from noise2stack.config_sections import BlindSpotShape
from noise2stack.data.sampler import plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.nets import build_net
from noise2stack.nets.blindspot import SHAPES, BlindSpotStackNet, HalfPlaneUNet, line_reach
from noise2stack.predict import predict_stack

NEIGHBORS, CENTER = 4, 2  # input channels [i-2, i-1, i, i+1, i+2]


def _net(shape="pixel", length=5, name="csbdeep-unet", seed=0, positive=False):
    """A blind-spot net as after training (the head's last layer, zero at the start, drawn at random);
    ``positive``: all weights in [0, 2 / fan-in) (gain about 1 per layer), so that every path from
    an input pixel to an output pixel moves it (no cancellation, no dead ReLU)."""
    torch.manual_seed(seed)
    net = build_net(
        name, NEIGHBORS + 1, [1, 3], blindspot_center=CENTER, blindspot_shape=shape, blindspot_length=length
    )
    torch.nn.init.normal_(net.head[-1].weight, std=0.1)
    if positive:
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.uniform_(module.weight, 0.0, 2.0 / module.weight[0].numel())
                torch.nn.init.constant_(module.bias, 0.01)
    return net.eval()


def _responses(net, height, width, seed=0):
    """How output (y, x) moves when plane i moves by 100 at (y', x') alone, as (Y', X', Y, X).

    One forward pass of a batch holding the input and every single-pixel perturbation of it. An
    output pixel whose computation never reads the moved pixel does not move (exactly, measured);
    :data:`HIDDEN` leaves room for another CPU's kernels.
    """
    pixels = height * width
    x = torch.from_numpy(np.random.default_rng(seed).random((1, NEIGHBORS + 1, height, width), dtype=np.float32))
    moved = x.repeat(pixels + 1, 1, 1, 1)
    moved[1:, CENTER].view(pixels, pixels)[torch.arange(pixels), torch.arange(pixels)] += 100.0
    with torch.inference_mode():
        out = net(moved)[:, 0]
    return (out[1:] - out[:1]).reshape(height, width, height, width)


HIDDEN = 1e-6  # float32 rounding of outputs about 1


def test_the_shapes_are_the_configs_choices():
    assert SHAPES == typing.get_args(BlindSpotShape)


def test_no_pixel_sees_its_own_value_and_every_other_pixel_nearby_counts():
    response = _responses(_net(positive=True), 18, 26)  # not multiples of 4: the net pads to its pooling grid
    assert torch.all(torch.einsum("yxyx->yx", response).abs() < HIDDEN)
    # the four nearest pixels (each seen by another rotated copy) do reach the prediction
    ys, xs = np.meshgrid(np.arange(1, 17), np.arange(1, 25), indexing="ij")
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        assert torch.all(response[ys + dy, xs + dx, ys, xs].abs() > 1e2 * HIDDEN), (dy, dx)


@pytest.mark.parametrize("shape", ["horizontal", "vertical", "both"])
def test_a_line_blind_spot_hides_its_line_and_no_more(shape):
    length = 5
    reach_y, reach_x = line_reach(shape, length)
    response = _responses(_net(shape, length, positive=True), 24, 24)
    ys, xs = np.meshgrid(np.arange(24), np.arange(24), indexing="ij")
    hidden = [(d, 0) for d in range(-reach_y, reach_y + 1)] + [(0, d) for d in range(-reach_x, reach_x + 1)]
    for dy, dx in hidden:
        inside = (ys + dy >= 0) & (ys + dy < 24) & (xs + dx >= 0) & (xs + dx < 24)
        assert torch.all(response[ys[inside] + dy, xs[inside] + dx, ys[inside], xs[inside]].abs() < HIDDEN), (dy, dx)
    # one pixel beyond the line's end is seen again (away from the borders)
    core = (slice(4, 20), slice(4, 20))
    for dy, dx in ((reach_y + 1, 0), (0, reach_x + 1), (-reach_y - 1, 0), (0, -reach_x - 1)):
        assert torch.all(response[ys[core] + dy, xs[core] + dx, ys[core], xs[core]].abs() > 1e2 * HIDDEN), (dy, dx)


def test_beside_the_deep_net_the_blind_spot_holds_and_odd_sizes_come_back():
    net = _net(name="n2n-unet", positive=True)
    assert net.depth == 5 and net.context == 158
    response = _responses(net, 19, 23)
    assert response.shape == (19, 23, 19, 23)
    assert torch.all(torch.einsum("yxyx->yx", response).abs() < HIDDEN)


def test_the_half_plane_net_sees_only_rows_above_within_its_reach():
    torch.manual_seed(0)
    net = HalfPlaneUNet(1, 8).double()
    for p in net.parameters():  # positive weights: no gradient cancels by chance
        torch.nn.init.uniform_(p, 0.05, 0.2)
    seen_rows = []
    for y0 in range(64, 68):  # the four positions on the pooling grid
        x = torch.full((1, 1, 128, 96), 0.1, dtype=torch.double, requires_grad=True)
        net(x, shift=3)[0, :, y0, 48].sum().backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1) > 0)[:, 0]
        seen_rows.append((y0 - rows.max().item(), y0 - rows.min().item()))
    assert min(near for near, _ in seen_rows) == 3  # shift 3: rows y-1 and y-2 hidden too
    assert max(far for _, far in seen_rows) == 3 + HalfPlaneUNet.reach


def _bare(net, stack):
    """Each plane's inputs through the network in one piece (it pads itself), no tiler involved."""
    with torch.inference_mode():
        return np.stack(
            [
                net(torch.from_numpy(plane_inputs(stack, z, NEIGHBORS, True))[None])[0, 0].numpy()
                for z in range(len(stack))
            ]
        )


@pytest.mark.parametrize("stitch,tile", [("blend", 64), ("cut", 128)])
def test_tiled_prediction_equals_the_bare_pass(stitch, tile):
    net = _net("horizontal")
    stack = np.random.default_rng(2).random((2, 150, 171)).astype(np.float32)
    tiled = predict_stack(net, stack, NEIGHBORS, True, tile=tile, stitch=stitch, batch=4)
    reference = _bare(net, stack)
    assert np.abs(tiled - reference).max() <= 1e-5 * np.abs(reference).max()


def test_through_the_tiler_a_pixel_of_plane_i_never_changes_its_own_prediction():
    net = _net()
    stack = np.random.default_rng(3).random((3, 150, 171)).astype(np.float32)
    options = {"tile": 64, "batch": 8, "planes": [1]}
    before = predict_stack(net, stack, NEIGHBORS, True, **options)
    # corners, edges and tile seams (multiples of 64); the pixels moved at once lie farther apart
    # than the net's context, so each output pixel sees at most its own moved pixel
    groups = [
        [(0, 0), (0, 170), (149, 0), (149, 170), (75, 85)],
        [(63, 64), (127, 128), (0, 128), (127, 0)],
        [(64, 63), (128, 127), (149, 64), (64, 170)],
        [(148, 169), (20, 60)],  # a reflection at the bottom and right would copy (148, 169) into the pad
    ]
    for group in groups:
        pairs = [(a, b) for a in group for b in group if a < b]
        assert all(max(abs(a[0] - b[0]), abs(a[1] - b[1])) > net.context for a, b in pairs)
        changed = stack.copy()
        for y, x in group:
            changed[1, y, x] += 50.0
        after = predict_stack(net, changed, NEIGHBORS, True, **options)
        for y, x in group:
            assert after[0, y, x] == pytest.approx(before[0, y, x], abs=1e-5), (y, x)
        assert np.abs(after - before).max() > 1e-3  # the change does reach other pixels


def test_training_starts_from_the_neighbour_branch_alone():
    torch.manual_seed(0)
    net = build_net("csbdeep-unet", NEIGHBORS + 1, [1, 3], blindspot_center=CENTER)
    x = torch.rand(2, NEIGHBORS + 1, 32, 40)
    others = x[:, [0, 1, 3, 4]]
    with torch.inference_mode():
        expected = net.neighbours(others)[:, :1] + x[:, [1, 3]].mean(dim=1, keepdim=True)
        torch.testing.assert_close(net(x), expected)


def test_bad_blind_spots_are_refused():
    with pytest.raises(Noise2StackError, match="shape"):
        line_reach("diagonal", 5)
    with pytest.raises(Noise2StackError, match="odd"):
        line_reach("horizontal", 4)
    with pytest.raises(Noise2StackError, match="residual"):
        BlindSpotStackNet(build_net("csbdeep-unet", 2, out_channels=32), 1, [1])
    with pytest.raises(Noise2StackError, match="U-Nets"):
        build_net("nrrn", 3, blindspot_center=1)
