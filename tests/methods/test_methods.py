import pytest
import torch
from safetensors.torch import load_file

from noise2stack import api
from noise2stack.errors import Noise2StackError
from noise2stack.methods import METHODS
from noise2stack.noise import add_noise

TINY = dict(epochs=1, steps_per_epoch=3, patch=16, batch=4, val_patches=4, seed=11, progress=False)


@pytest.fixture
def copies(tiny_stack):
    return add_noise(tiny_stack, "gaussian", sigma=8, seed=1), add_noise(tiny_stack, "gaussian", sigma=8, seed=2)


def _weights(folder):
    return load_file(str(folder / "last.safetensors"))


def test_registry_names():
    assert {"n2stack", "n2n", "n2c"} <= set(METHODS)


def test_n2n_is_n2stack_copy_without_neighbours(tmp_path, copies):
    a, b = copies
    api.train(a, tmp_path / "n2n", targets=[b], method="n2n", **TINY)
    api.train(a, tmp_path / "n2s", targets=[b], method="n2stack", mode="copy", neighbors=0, **TINY)
    wa, wb = _weights(tmp_path / "n2n"), _weights(tmp_path / "n2s")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert "mode: copy" in (tmp_path / "n2n" / "config.yaml").read_text()


def test_n2n_refuses_neighbours(tmp_path, copies):
    a, b = copies
    with pytest.raises(Noise2StackError, match="n2n"):
        api.train(a, tmp_path / "m", targets=[b], method="n2n", neighbors=2, **TINY)


def test_n2c_needs_and_uses_the_clean_target(tmp_path, copies, tiny_stack):
    a, _ = copies
    with pytest.raises(Noise2StackError, match="clean stack"):
        api.train(a, tmp_path / "m", method="n2c", **TINY)
    model = api.train(a, tmp_path / "m", targets=[tiny_stack], method="n2c", **TINY)
    assert model.net.in_channels == 1 and model.include_center
    assert api.predict(model, a, progress=False).shape == a.shape


@pytest.mark.parametrize(
    "args",
    [
        ["--method", "n2v"],
        ["--method", "n2v", "--net", "n2v2-unet", "--config", "{cfg}"],
        ["--n2v2"],
        ["--method", "n2n", "--target", "{copy}"],
        ["--method", "n2c", "--target", "{clean}"],
        ["--method", "n2stack", "--mode", "copy", "--neighbors", "4", "--target", "{copy}"],
    ],
)
def test_each_method_trains_and_predicts_through_the_cli(tmp_path, copies, tiny_stack, args):
    import tifffile
    from typer.testing import CliRunner

    from noise2stack.cli import app

    a, b = copies
    files = {
        "noisy": tmp_path / "a.tif",
        "copy": tmp_path / "b.tif",
        "clean": tmp_path / "c.tif",
        "cfg": tmp_path / "n2v2.yaml",
    }
    tifffile.imwrite(files["noisy"], a)
    tifffile.imwrite(files["copy"], b)
    tifffile.imwrite(files["clean"], tiny_stack)
    files["cfg"].write_text("n2v_replacement: median\n")
    args = [str(x).format(**{k: str(v) for k, v in files.items()}) for x in args]
    runner = CliRunner()
    tiny = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "2", "--quiet"]
    r = runner.invoke(app, ["train", str(files["noisy"]), "--out", str(tmp_path / "m"), *args, *tiny])
    assert r.exit_code == 0, r.output
    if "--n2v2" in args or "n2v2-unet" in args:
        config = api.load_model(tmp_path / "m").config
        assert (config.method, config.algorithm.net, config.algorithm.replacement) == ("n2v", "n2v2-unet", "median")
    r = runner.invoke(app, ["predict", str(tmp_path / "m"), str(files["noisy"]), str(tmp_path / "o.tif"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert tifffile.imread(tmp_path / "o.tif").shape == a.shape


def test_n2v_trains_on_a_single_2d_image(tmp_path, copies):
    a, _ = copies
    model = api.train(a[3], tmp_path / "m", method="n2v", axes="YX", **TINY)
    out = api.predict(model, a[3], progress=False, axes="YX")
    assert out.shape == (1, *a.shape[1:])


def test_n2v2_flag_refuses_other_methods(tmp_path, copies):
    import tifffile
    from typer.testing import CliRunner

    from noise2stack.cli import app

    tifffile.imwrite(tmp_path / "a.tif", copies[0])
    r = CliRunner().invoke(
        app, ["train", str(tmp_path / "a.tif"), "--out", str(tmp_path / "m"), "--n2v2", "--method", "n2stack"]
    )
    assert r.exit_code == 2 and "variant of --method n2v" in r.output
    assert not (tmp_path / "m").exists()


def test_mae_loss_by_hand_and_the_registry_instance_stays_mse():
    from noise2stack.config import make_config
    from noise2stack.methods import get_method

    method = get_method("n2n")
    bound = method.bind(make_config(method="n2n", mode="copy", loss="mae"), None)
    prediction, target = torch.tensor([[1.0, 2.0], [3.0, 5.0]]), torch.tensor([[0.0, 2.0], [5.0, 4.0]])
    mask = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert float(bound.loss(prediction, target)) == pytest.approx((1 + 0 + 2 + 1) / 4)
    assert float(bound.loss(prediction, target, mask)) == pytest.approx((1 + 0 + 1) / 3)
    assert float(method.loss(prediction, target)) == pytest.approx((1 + 0 + 4 + 1) / 4)  # unchanged: MSE
    assert method.bind(make_config(method="n2n", mode="copy"), None) is method


def test_batch_norm_meanstd_model_trains_saves_and_loads_the_same(tiny_stack, tmp_path):
    model = api.train(tiny_stack, tmp_path / "m", method="n2v", batch_norm=True, normalization="meanstd", **TINY)
    loaded = api.load_model(tmp_path / "m")
    assert loaded.config.algorithm.batch_norm and loaded.config.data.normalization == "meanstd"
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.net.modules())
    running = [k for k in loaded.net.state_dict() if k.endswith("running_mean")]
    assert running and all(float(loaded.net.state_dict()[k].abs().sum()) > 0 for k in running)  # statistics were learnt
    first, again = api.predict(model, tiny_stack, progress=False), api.predict(loaded, tiny_stack, progress=False)
    assert abs(float(again.mean()) - float(tiny_stack.mean())) < 0.5 * float(tiny_stack.std())  # back in input units
    assert (first == again).all()


def test_self_supervised_modes_are_those_without_a_second_stack():
    from noise2stack.methods.advice import self_supervised, self_supervised_modes

    modes = {name: self_supervised_modes(name) for name in self_supervised()}
    assert modes["n2stack"] == ["self", "blindspot"]  # copy needs a second stack
    assert modes["n2v"] == ["self"]
    assert self_supervised_modes("n2n") == []  # copy mode only


@pytest.mark.parametrize("method", ["n2v", "n2c", "n2sr"])
def test_mode_copy_is_refused_where_the_target_is_not_a_copy(method):
    from noise2stack.config import make_config
    from noise2stack.methods import get_method

    config = make_config(method=method, mode="copy")
    with pytest.raises(Noise2StackError, match=f"`method` {method} does not train against a noisy copy"):
        get_method(method).validate(config)
    get_method(method).validate(make_config(method=method))  # its own mode passes
