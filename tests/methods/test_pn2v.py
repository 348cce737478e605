import functools
import math

import numpy as np
import pytest
import torch

from noise2stack import api
from noise2stack.config import make_config
from noise2stack.data.blindspot import mask_patch
from noise2stack.data.normalize import Normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.errors import Noise2StackError
from noise2stack.methods import get_method
from noise2stack.methods.pn2v import pn2v_loss, posterior
from noise2stack.noise import add_noise
from noise2stack.noise.histogram import TINY_DENSITY
from noise2stack.noise.poisson_gaussian import to_histogram
from noise2stack.train.batches import draw_batch

TINY = dict(epochs=1, steps_per_epoch=2, patch=16, batch=2, val_patches=2, seed=3, progress=False, pn2v_samples=8)
IDENTITY = Normalizer("percentile", 0.0, 1.0)  # network units = raw units


def narrow_model():
    """p(x|s): a Gaussian of sd 0.5 (half a bin) around s over [0, 256)."""
    return to_histogram(gain=0.0, read_variance=0.0, value_range=(0.0, 256.0))


def bound(name="pn2v", model=None, **values):
    config = make_config(method=name, noise_model="unused.npz", **values)
    return get_method(name).bind(config, IDENTITY, model or narrow_model())


def test_flat_likelihood_gives_mean_of_samples():
    samples = torch.tensor([3.0, 7.0, 11.0, 40.0]).view(1, 4, 1, 1)
    mmse, std = posterior(samples, torch.zeros_like(samples))
    assert mmse.item() == pytest.approx(15.25)
    assert std.item() == pytest.approx(np.std([3.0, 7.0, 11.0, 40.0]), rel=1e-5)


def test_peaked_likelihood_gives_sample_nearest_observation():
    method = bound()
    samples = torch.tensor([10.0, 50.0, 90.0, 130.0]).view(1, 4, 1, 1)
    out = method.finish(samples, torch.tensor([[[[50.3]]]]))
    assert out[0, 0].item() == pytest.approx(50.0, abs=1e-3)
    assert out[0, 1].item() == pytest.approx(0.0, abs=1e-2)


def test_loss_matches_eq7_by_hand():
    log_p = torch.log(torch.tensor([0.2, 0.6])).view(1, 2, 1, 1)
    assert pn2v_loss(log_p).item() == pytest.approx(-math.log(0.4), rel=1e-6)
    mask = torch.tensor([[[[1.0, 0.0]]]])
    two = torch.log(torch.tensor([[0.2, 1e-3], [0.6, 1e-3]])).view(1, 2, 1, 2)
    assert pn2v_loss(two, mask).item() == pytest.approx(-math.log(0.4), rel=1e-6)


def test_method_loss_on_masked_pixels_is_eq7_by_hand():
    # the method looks up only the masked pixels; its value is eq. 7 over those pixels, here by hand:
    # p(x|s) of the narrow model is a Gaussian of sd 0.5 (half a bin) around s
    method = bound()
    samples = torch.tensor([[[[40.0, 200.0]], [[41.0, 200.0]]]])  # (1, K=2, 1, 2)
    observed = torch.tensor([[[[40.3, 10.0]]]])
    mask = torch.tensor([[[[1.0, 0.0]]]])  # the second pixel, far from its samples, does not count
    bin_density = [table_density(method, 40.3, s) for s in (40.0, 41.0)]
    expected = -math.log(sum(bin_density) / 2)
    assert method.loss(samples, observed, mask).item() == pytest.approx(expected, rel=1e-4)
    whole = pn2v_loss(method.noise_model.log_likelihood(observed, samples), mask)
    assert method.loss(samples, observed, mask).item() == pytest.approx(whole.item(), rel=1e-6)


def test_training_loss_with_the_head_at_masked_pixels_is_the_loss_of_the_whole_output():
    # pn2v's training step runs the U-Net's head at the masked pixels only (net(x, at=...)): the same
    # eq. 7 as the method's loss over the full (B, K, Y, X) output, and the same gradients
    from noise2stack.nets import build_net

    torch.manual_seed(0)
    method = bound()
    net = build_net("csbdeep-unet", 1, out_channels=8)
    inputs = 100 + 50 * torch.rand(3, 1, 20, 24)
    targets = 100 + 50 * torch.rand(3, 1, 20, 24)
    masks = (torch.rand(3, 1, 20, 24) < 0.05).float()
    with torch.no_grad():  # samples spread around the data, so the likelihood is not floored
        net.head.bias.copy_(torch.linspace(100, 150, 8))
    whole = method.loss(net(inputs), targets, masks)
    grads_whole = torch.autograd.grad(whole, list(net.parameters()))
    picked = method.training_loss(net, inputs, targets, masks)
    grads_picked = torch.autograd.grad(picked, list(net.parameters()))
    assert whole.item() < 10  # the loss of likely samples (the floor would give about 69)
    assert picked.item() == pytest.approx(whole.item(), rel=1e-4)
    for got, want in zip(grads_picked, grads_whole):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)


def table_density(method, x: float, s: float) -> float:
    """p(x|s) from the histogram by hand: x's bin, s linearly between the two nearest row centres."""
    nm = method.noise_model
    dens = nm.densities()
    col = int((x - nm.low) // nm.bin_width)
    row = (s - nm.low) / nm.bin_width - 0.5
    r0 = int(math.floor(row))
    return float((1 - (row - r0)) * dens[r0, col] + (row - r0) * dens[r0 + 1, col])


def test_loss_finite_when_every_sample_is_far():
    method = bound()
    samples = torch.full((1, 16, 4, 4), 10.0, requires_grad=True)
    loss = method.loss(samples, torch.full((1, 1, 4, 4), 240.0), None)
    assert torch.isfinite(loss)
    # only the noise model's broad tail is left: the loss is its -log density at distance 230
    from noise2stack.noise.histogram import TAIL_WEIGHT, TAIL_WIDTH

    width = TAIL_WIDTH * 256.0
    tail = math.log(TAIL_WEIGHT) - 0.5 * (230.0 / width) ** 2 - math.log(width * math.sqrt(2 * math.pi))
    assert loss.item() == pytest.approx(-tail, rel=1e-4) and loss.item() < -math.log(TINY_DENSITY)
    loss.backward()
    # and every sample is pulled towards the observation: the samples can leave their cluster
    assert torch.isfinite(samples.grad).all() and (samples.grad < 0).all()


def test_loss_lower_for_samples_near_observation():
    method = bound()
    target = torch.full((1, 1, 2, 2), 100.0)
    near = method.loss(torch.full((1, 4, 2, 2), 100.2), target, None)
    far = method.loss(torch.full((1, 4, 2, 2), 103.0), target, None)
    assert near.item() < far.item()


def test_pn2v_masks_as_n2v(tiny_stack):
    config = make_config(method="pn2v", noise_model="x.npz", neighbors=0, residual=False)
    n2v_config = make_config(method="n2v", neighbors=0, residual=False)
    patch = tiny_stack[:1, :16, :16]
    a = get_method("pn2v").transform(patch, patch, np.random.default_rng(5), config)
    b = get_method("n2v").transform(patch, patch, np.random.default_rng(5), n2v_config)
    c = mask_patch(
        patch,
        config.algorithm.fraction,
        np.random.default_rng(5),
        config.algorithm.replacement,
        config.algorithm.window,
    )
    for x, y in zip(a[::2], b[::2]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[0], c[0])
    assert a[2].sum() > 0 and not np.array_equal(a[0], patch)


def test_pn2stack_never_feeds_plane_i(tiny_stack):
    config = make_config(method="pn2stack", noise_model="x.npz", neighbors=4, residual=False)
    method = get_method("pn2stack")
    stack = tiny_stack.copy()
    stack[3] = 1e6  # plane i: a value no neighbour has
    source = PatchSource(
        [stack], [stack], [(0, 3)], neighbors=4, include_center=method.include_center(config), patch=16
    )
    inputs, targets, masks = draw_batch(
        source, functools.partial(method.transform, config=config), 4, np.random.default_rng(0)
    )
    assert inputs.shape[1] == 4 and inputs.max().item() < 1e3
    assert torch.all(targets == 1e6) and torch.all(masks == 1)


def test_methods_refuse_missing_noise_model(tiny_stack, tmp_path):
    for name in ("pn2v", "pn2stack"):
        with pytest.raises(Noise2StackError, match="needs `noise_model`"):
            api.train(tiny_stack, tmp_path / name, method=name, **TINY)
        assert not (tmp_path / name).exists()


def test_noise_model_must_cover_data(tiny_stack, tmp_path):
    model = to_histogram(1.0, 4.0, value_range=(20.0, 60.0))
    model.save(tmp_path / "nm.npz")
    with pytest.raises(Noise2StackError, match=r"\(9.95 below and 127 above\); pass `noise_model_clip`"):
        api.train(tiny_stack, tmp_path / "m", method="pn2v", noise_model=str(tmp_path / "nm.npz"), **TINY)
    assert not (tmp_path / "m").exists()


@pytest.fixture
def noisy_and_model(tiny_stack, tmp_path):
    noisy = add_noise(tiny_stack, "poisson-gaussian", sigma=3.0, peak=60.0, seed=1)
    from noise2stack.noise.histogram import from_pairs

    second = add_noise(tiny_stack, "poisson-gaussian", sigma=3.0, peak=60.0, seed=2)
    model = from_pairs(tiny_stack, second, value_range=(float(noisy.min()) - 20, float(noisy.max()) + 20))
    model.save(tmp_path / "nm.npz")
    return noisy, tmp_path / "nm.npz"


@pytest.mark.parametrize("name, extra", [("pn2v", {}), ("pn2stack", {"neighbors": 2})])
def test_train_predict_tiled_equals_untiled(tmp_path, noisy_and_model, name, extra):
    noisy, nm = noisy_and_model
    big = np.concatenate([noisy] * 4, axis=2)[:3]  # 3 planes of 40x144
    big = np.concatenate([big] * 4, axis=1)  # 160x144
    model = api.train(big, tmp_path / name, method=name, noise_model=str(nm), **{**TINY, **extra})
    assert (tmp_path / name / "noise_model.npz").is_file()
    whole = api.predict(tmp_path / name, big, progress=False, tile=512, uncertainty=tmp_path / "std.npy")
    tiled = api.predict(model, big, progress=False, tile=128, overlap=64)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5 * float(np.abs(whole).max()))  # as the README promises
    std = np.load(tmp_path / "std.npy")
    assert std.shape == big.shape and (std >= 0).all() and std.max() > 0


def test_pn2v_predicts_a_single_plane(tmp_path, noisy_and_model):
    noisy, nm = noisy_and_model
    api.train(noisy[0], tmp_path / "m", method="pn2v", noise_model=str(nm), axes="YX", **TINY)
    out = api.predict(tmp_path / "m", noisy[0], axes="YX", progress=False, uncertainty=tmp_path / "s.npy")
    assert out.shape == (1, *noisy.shape[1:])
    assert np.load(tmp_path / "s.npy").shape[-2:] == noisy.shape[1:]


def test_uncertainty_refused_for_plain_models(tmp_path, tiny_stack):
    api.train(tiny_stack, tmp_path / "m", method="n2v", **{k: v for k, v in TINY.items() if k != "pn2v_samples"})
    with pytest.raises(Noise2StackError, match="needs a pn2v or pn2stack model"):
        api.predict(tmp_path / "m", tiny_stack, progress=False, uncertainty=tmp_path / "s.npy")
    assert not (tmp_path / "s.npy").exists()


def test_prior_mean_estimate_is_the_plain_mean_of_the_samples():
    method = bound()
    samples = torch.tensor([10.0, 50.0, 90.0, 130.0]).view(1, 4, 1, 1)
    out = method.prediction_head(make_config(method="pn2v", noise_model="unused.npz"), estimate="prior-mean")(
        samples, torch.tensor([[[[50.3]]]])
    )
    assert out[0, 0].item() == pytest.approx(70.0)  # (10 + 50 + 90 + 130) / 4, whatever was observed
    assert out[0, 1].item() == pytest.approx(math.sqrt(2000.0))  # population sd of the four samples


def test_estimate_option_is_checked_and_only_for_sample_models(tmp_path, noisy_and_model, tiny_stack):
    noisy, nm = noisy_and_model
    model = api.train(noisy, tmp_path / "p", method="pn2v", noise_model=str(nm), **TINY)
    prior = api.predict(model, noisy, progress=False, estimate="prior-mean")
    mmse = api.predict(model, noisy, progress=False)
    assert prior.shape == mmse.shape and not np.allclose(prior, mmse)
    with pytest.raises(Noise2StackError, match="`estimate` must be mmse or prior-mean"):
        api.predict(model, noisy, progress=False, estimate="median")
    plain = api.train(
        tiny_stack, tmp_path / "n", method="n2v", **{k: v for k, v in TINY.items() if k != "pn2v_samples"}
    )
    with pytest.raises(Noise2StackError, match="`estimate` is not an option of `method` n2v"):
        api.predict(plain, tiny_stack, progress=False, estimate="prior-mean")
