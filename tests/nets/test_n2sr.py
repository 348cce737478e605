"""The Noise2SR network: 256-channel U-Net, x2 head, context, and the bilinear down-sampling."""

import pytest
import torch
import torch.nn.functional as F

from noise2stack.nets import build_net
from noise2stack.nets.n2sr import SRDownsampled, SRMean, SRPhase, SRPolyphase, downsample_bilinear


def test_output_is_twice_the_input_and_last_unet_layer_has_256_channels():
    net = build_net("n2sr-unet", 1)
    assert net.head.out_channels == 256 and net.upsample.in_channels == 256
    assert net.upsample.stride == (2, 2) and net.sr1.kernel_size == (1, 1) and net.sr2.kernel_size == (1, 1)
    assert net(torch.zeros(2, 1, 13, 10)).shape == (2, 1, 26, 20)


def test_bilinear_half_is_the_mean_of_each_2x2_cell():
    sr = torch.arange(16.0).reshape(1, 1, 4, 4)
    expected = torch.tensor(
        [[[[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4], [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]]]]
    )
    torch.testing.assert_close(downsample_bilinear(sr), expected)
    x = torch.randn(1, 1, 10, 12)
    torch.testing.assert_close(downsample_bilinear(x), F.avg_pool2d(x, 2))


def test_views_are_the_downsampled_output_and_its_phases():
    torch.manual_seed(0)
    net = build_net("n2sr-unet", 1).eval()
    x = torch.randn(1, 1, 16, 12)
    with torch.no_grad():
        full = net(x)
        torch.testing.assert_close(SRDownsampled(net)(x), F.avg_pool2d(full, 2))
        torch.testing.assert_close(SRPhase(net, 1, 0)(x), full[..., 1::2, 0::2])


def test_context_is_the_unet_context_in_input_pixels():
    torch.manual_seed(1)
    net = build_net("n2sr-unet", 1).eval()
    size = 128
    x = torch.randn(1, 1, size, size)
    reach = 0
    with torch.no_grad():
        base = net(x)
        for dy, dx in [(0, 0), (1, 3), (2, 1), (3, 2)]:
            py, px = size // 2 + dy, size // 2 + dx
            x2 = x.clone()
            x2[0, 0, py, px] += 10
            ys, xs = torch.nonzero((net(x2) - base)[0, 0] != 0, as_tuple=True)
            # output sub-pixel (Y, X) belongs to input pixel (Y // 2, X // 2)
            reach = max(reach, int((ys // 2 - py).abs().max()), int((xs // 2 - px).abs().max()))
    assert reach == net.context == 24


def test_polyphase_is_the_mean_of_the_three_components_that_do_not_hold_a_pixel():
    torch.manual_seed(2)
    net = build_net("n2sr-unet", 1).eval()
    x = torch.randn(1, 1, 16, 12)
    with torch.no_grad():
        found = SRPolyphase(net)(x)
        by_phase = {(dy, dx): net(x[..., dy::2, dx::2])[0, 0] for dy in (0, 1) for dx in (0, 1)}
    for y, xx in [(0, 0), (0, 1), (5, 2), (7, 11), (15, 6)]:
        others = [out[y, xx] for (dy, dx), out in by_phase.items() if (y % 2, xx % 2) != (dy, dx)]
        assert len(others) == 3
        torch.testing.assert_close(found[0, 0, y, xx], sum(others) / 3)


def test_mean_is_the_mean_of_the_paper_path_and_the_polyphase_path():
    torch.manual_seed(4)
    net = build_net("n2sr-unet", 1).eval()
    x = torch.randn(2, 1, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(SRMean(net)(x), (SRDownsampled(net)(x) + SRPolyphase(net)(x)) / 2)
    assert (SRMean(net).depth, SRMean(net).context) == (SRPolyphase(net).depth, SRPolyphase(net).context)


def test_polyphase_output_never_depends_on_its_own_pixel():
    """J-invariance through the whole network: d out[y, x] / d in[y, x] == 0 for every pixel."""
    torch.manual_seed(3)
    view = SRPolyphase(build_net("n2sr-unet", 1).eval())
    x = torch.randn(1, 1, 12, 10)
    jacobian = torch.autograd.functional.jacobian(lambda t: view(t)[0, 0], x)[:, :, 0, 0]  # (12, 10, 12, 10)
    own = jacobian.reshape(120, 120).diagonal()
    assert float(own.abs().max()) == 0.0
    assert float(jacobian.abs().sum()) > 0  # the neighbours do count
    # the paper's path (the whole plane through the net) does see its own pixel
    whole = torch.autograd.functional.jacobian(lambda t: SRDownsampled(view.net)(t)[0, 0], x)[:, :, 0, 0]
    assert float(whole.reshape(120, 120).diagonal().abs().min()) > 0


def test_polyphase_context_and_pooling_grid_are_twice_the_networks():
    torch.manual_seed(1)
    net = build_net("n2sr-unet", 1).eval()
    view = SRPolyphase(net)
    assert view.depth == net.depth + 1
    size = 160
    x = torch.randn(1, 1, size, size)
    reach = 0
    with torch.no_grad():
        base = view(x)
        for dy, dx in [(0, 0), (1, 3), (2, 1), (3, 2)]:
            py, px = size // 2 + dy, size // 2 + dx
            x2 = x.clone()
            x2[0, 0, py, px] += 10
            ys, xs = torch.nonzero((view(x2) - base)[0, 0] != 0, as_tuple=True)
            reach = max(reach, int((ys - py).abs().max()), int((xs - px).abs().max()))
    assert reach == view.context == 2 * net.context + 1


@pytest.mark.parametrize("method", ["n2v", "n2stack"])
def test_net_refused_for_other_methods(method):
    from noise2stack.config import make_config
    from noise2stack.errors import Noise2StackError

    with pytest.raises(Noise2StackError, match="made for method n2sr"):
        make_config(method=method, net="n2sr-unet")
