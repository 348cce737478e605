import warnings

import pytest
import torch

from noise2stack.errors import Noise2StackError
from noise2stack.nets import build_net


def _conv_params(cin, cout):
    return 9 * cin * cout + cout


def test_table_s1_parameter_count():
    # Table S1, n = 2 input planes: 32,32 | 64,64 | 128,64 | (128)64,32 | (64)32,32,1
    layers = [
        (2, 32),
        (32, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 64),
        (128, 64),
        (64, 32),
        (64, 32),
        (32, 32),
        (32, 1),
    ]
    expected = sum(_conv_params(a, b) for a, b in layers)
    assert expected == 333185
    net = build_net("csbdeep-unet", 2)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_table_s2_parameter_count():
    n = 5
    layers = (
        [(n, 48), (48, 48)]
        + [(48, 48)] * 5
        + [(96, 96), (96, 96)]
        + [(144, 96), (96, 96)] * 3
        + [(96 + n, 64), (64, 32), (32, 1)]
    )
    net = build_net("n2n-unet", n)
    assert sum(p.numel() for p in net.parameters()) == sum(_conv_params(a, b) for a, b in layers)
    assert any(isinstance(m, torch.nn.Conv2d) and m.in_channels == 144 for m in net.modules())


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2n-unet", "n2v2-unet"])
def test_residual_path_adds_mean_of_residual_channels(name):
    net = build_net(name, 4, residual_channels=[1, 2])
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 4, 37, 51)  # odd sizes
    out = net(x)
    assert out.shape == (2, 1, 37, 51)
    torch.testing.assert_close(out, x[:, 1:3].mean(dim=1, keepdim=True))


def test_no_residual_gives_zero_with_zero_weights():
    net = build_net("csbdeep-unet", 2)
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    assert torch.count_nonzero(net(torch.randn(1, 2, 16, 16))) == 0


def test_odd_sizes_equal_padded_then_cropped():
    torch.manual_seed(0)
    net = build_net("csbdeep-unet", 2).eval()
    x = torch.randn(1, 2, 30, 29)
    padded = torch.nn.functional.pad(x, (0, 3, 0, 2), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(padded)[..., :30, :29])


@pytest.mark.parametrize("name,size", [("csbdeep-unet", 128), ("n2n-unet", 512), ("n2v2-unet", 128)])
def test_context_bounds_the_reach_of_an_input_pixel(name, size):
    torch.manual_seed(1)
    net = build_net(name, 1).eval()
    x = torch.randn(1, 1, size, size)
    reach = 0
    with torch.no_grad():
        base = net(x)
        for dy, dx in [(0, 0), (1, 3), (2, 1), (3, 2)]:
            py, px = size // 2 + dy, size // 2 + dx
            x2 = x.clone()
            x2[0, 0, py, px] += 10
            ys, xs = torch.nonzero((net(x2) - base)[0, 0] != 0, as_tuple=True)
            reach = max(reach, int((ys - py).abs().max()), int((xs - px).abs().max()))
    # measured exactly, both bounds: tiles read all they need and discard no more than needed (N2V2's
    # blur-pool U-Net reaches 27 px from every position of its 4 x 4 pooling grid; its context says 28)
    slack = {"n2v2-unet": 1}.get(name, 0)
    assert reach == net.context - slack


def test_unknown_net():
    with pytest.raises(Noise2StackError, match="unknown network"):
        build_net("resnet", 2)


def test_out_channels_and_residual_added_to_every_channel():
    import torch

    from noise2stack.nets import build_net

    net = build_net("csbdeep-unet", 3, residual_channels=[1], out_channels=5)
    x = torch.randn(2, 3, 16, 16)
    plain = build_net("csbdeep-unet", 3, out_channels=5)
    plain.load_state_dict(net.state_dict())
    out = net(x)
    assert out.shape == (2, 5, 16, 16)
    # the residual (input channel 1) is added to each of the 5 output channels
    torch.testing.assert_close(out - plain(x), x[:, 1:2].expand(-1, 5, -1, -1))


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2n-unet", "n2v2-unet"])
def test_joint_channels_residual_is_each_channels_own_mean(name):
    """Joint channels: input channel n*C + c is slot n of image channel c; output c gets the mean of
    its own channel's residual slots (2 channels, 4 slots, residual slots 1 and 2)."""
    net = build_net(name, 8, residual_channels=[1, 2], out_channels=2, joint_channels=2)
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(3, 8, 21, 19)
    out = net(x)
    assert out.shape == (3, 2, 21, 19)
    torch.testing.assert_close(out[:, 0], (x[:, 2] + x[:, 4]) / 2)  # slots 1, 2 of channel 0
    torch.testing.assert_close(out[:, 1], (x[:, 3] + x[:, 5]) / 2)  # slots 1, 2 of channel 1


def test_joint_channels_refused_for_other_nets_and_shapes():
    with pytest.raises(Noise2StackError, match="joint"):
        build_net("nrrn", 3, joint_channels=3, out_channels=3)
    with pytest.raises(Noise2StackError, match="multiple"):
        build_net("csbdeep-unet", 5, out_channels=2, joint_channels=2)


def test_batch_norm_only_for_the_two_level_unets():
    from noise2stack.errors import Noise2StackError

    with pytest.raises(Noise2StackError, match="`batch_norm` works with csbdeep-unet and n2v2-unet"):
        build_net("n2n-unet", 1, batch_norm=True)
    assert build_net("n2n-unet", 1, batch_norm=False).in_channels == 1


class _CountingOp:
    """Stands in for oneDNN's fused convolution op and counts the calls."""

    def __init__(self, op):
        self.op, self.calls = op, 0
        self.binary = self._count(op.binary)

    def _count(self, fn):
        def counted(*args):
            self.calls += 1
            return fn(*args)

        return counted

    def __call__(self, *args):
        self.calls += 1
        return self.op(*args)


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2n-unet", "n2v2-unet"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_inference_equals_the_eager_network(name, channels_last, monkeypatch):
    from noise2stack.nets import unet

    spy = _CountingOp(unet._POINTWISE)
    monkeypatch.setattr(unet, "_POINTWISE", spy)
    torch.manual_seed(0)
    net = build_net(name, 3, residual_channels=[1]).eval()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    x = torch.randn(2, 3, 45, 70).contiguous(memory_format=layout)  # odd sizes: the net pads
    eager = net(x).detach()  # with gradients: the plain convolutions and activations
    assert spy.calls == 0
    with torch.inference_mode():
        fused = net(x)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    skips = {"csbdeep-unet": 2, "n2v2-unet": 1, "n2n-unet": 5}[name]
    assert spy.calls == convs - 1 + skips  # every convolution but the linear head, two calls per skip
    torch.testing.assert_close(fused, eager, rtol=1e-5, atol=1e-5)


def test_fused_inference_only_for_float32_cpu_inference_outside_tracing():
    from noise2stack.nets.unet import fused_inference

    x = torch.zeros(1, 1, 8, 8)
    assert not fused_inference(x)  # gradients on
    with torch.no_grad():
        assert fused_inference(x)
        assert not fused_inference(x.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not fused_inference(x)
    net = build_net("csbdeep-unet", 1).eval()
    with torch.no_grad(), warnings.catch_warnings():  # an exported TorchScript graph keeps the portable ops
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        graph = str(torch.jit.trace(net, torch.randn(1, 1, 32, 32), check_trace=False).inlined_graph)
    assert "aten::_convolution" in graph and "mkldnn" not in graph


def test_conv_over_cat_equals_the_convolution_of_the_concatenation_with_its_gradients():
    from noise2stack.nets.unet import conv_over_cat

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 4, 3, padding=1)
    x, skip = torch.randn(2, 3, 9, 11, requires_grad=True), torch.randn(2, 2, 9, 11, requires_grad=True)
    expected = conv(torch.cat([x, skip], dim=1))
    grads_expected = torch.autograd.grad(expected.square().sum(), [x, skip, conv.weight, conv.bias])
    out = conv_over_cat(conv, x, skip)
    grads = torch.autograd.grad(out.square().sum(), [x, skip, conv.weight, conv.bias])
    torch.testing.assert_close(out, expected)
    for got, want in zip(grads, grads_expected):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["csbdeep-unet", "n2v2-unet", "n2n-unet"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_output_at_chosen_pixels_equals_the_full_output_there_with_its_gradients(name, channels_last):
    torch.manual_seed(0)
    net = build_net(name, 3, residual_channels=[0, 2], out_channels=6)
    size = (37, 45) if name == "n2n-unet" else (21, 30)  # not multiples of 2**depth: padded inside
    x = torch.randn(2, 3, *size)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    at = torch.rand(2, *size) < 0.1
    at[0, 0, 0] = at[1, -1, -1] = True  # corners: the head's 3x3 window reaches into the padding
    params = list(net.parameters())
    full = net(x).permute(0, 2, 3, 1)[at]
    grads_full = torch.autograd.grad(full.square().sum(), params)
    picked = net(x, at=at)
    grads_picked = torch.autograd.grad(picked.square().sum(), params)
    assert picked.shape == (int(at.sum()), 6)
    torch.testing.assert_close(picked, full, rtol=1e-4, atol=1e-5)
    for got, want in zip(grads_picked, grads_full):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)


def test_output_at_chosen_pixels_refuses_a_mask_of_another_shape():
    net = build_net("csbdeep-unet", 1)
    with pytest.raises(Noise2StackError, match="boolean"):
        net(torch.zeros(1, 1, 8, 8), at=torch.ones(1, 8, 7, dtype=torch.bool))
