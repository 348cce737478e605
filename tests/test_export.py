"""`noise2stack export --format bioimageio`: the package validates, bioimageio.core runs it, and it equals `predict`."""

import numpy as np
import pytest
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app

spec = pytest.importorskip(
    "bioimageio.spec", reason="bioimage.io export tests need pip install 'noise2stack[bioimageio]'"
)
core = pytest.importorskip(
    "bioimageio.core", reason="bioimage.io export tests need pip install 'noise2stack[bioimageio]'"
)

runner = CliRunner()
TINY = dict(progress=False, epochs=1, steps_per_epoch=2, patch=16, batch=4, val_patches=4, seed=0)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from scipy import ndimage

    folder = tmp_path_factory.mktemp("export")
    field = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(6, 40, 48)), (1.5, 3, 3))
    noisy = (100 + 1000 * field + np.random.default_rng(1).normal(0, 5, field.shape)).astype(np.float32)
    np.save(folder / "noisy.npy", noisy)
    api.train(folder / "noisy.npy", folder / "model", neighbors=4, **TINY)
    r = run("export", folder / "model", folder / "pkg.zip", "--format", "bioimageio")  # sample: the training stack
    assert r.exit_code == 0, r.output
    return folder


def test_package_validates_and_passes_its_own_test(exported):
    description = spec.load_description(exported / "pkg.zip", perform_io_checks=True)
    assert type(description).__name__ == "ModelDescr" and description.format_version.startswith("0.5")
    names = [str(n) for n in description.inputs[0].axes[1].channel_names]
    assert names == ["z_minus_2", "z_minus_1", "z_plus_1", "z_plus_2"]  # self mode, 4 neighbours, offset order
    assert description.covers and description.documentation is not None
    summary = core.test_model(exported / "pkg.zip")
    assert summary.status == "passed", [(d.name, d.errors) for d in summary.details if d.status != "passed"]


def test_bioimageio_core_equals_noise2stack_predict(exported):
    from noise2stack.data.sampler import plane_inputs

    noisy = np.load(exported / "noisy.npy")
    model = api.load_model(exported / "model")
    # Whole 40x48 planes (multiples of the net's 8 px step): noise2stack predicts them in one tile.
    planes = [0, 2, 5]  # both ends, where the marginal-plane rule picks the neighbours
    inputs = np.stack([plane_inputs(noisy, z, model.neighbors, model.include_center) for z in planes])
    description = spec.load_description(exported / "pkg.zip")
    sample = core.predict(model=description, inputs={"planes": inputs})
    result = np.asarray(sample.members["denoised"].data)
    expected = api.predict(exported / "model", exported / "noisy.npy", progress=False)[planes]
    assert result.shape == (3, 1, 40, 48)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(result[:, 0], expected, rtol=0, atol=1e-5 * scale)
    assert np.abs(result[:, 0] - noisy[planes]).mean() > 1e-3 * scale  # not the identity


def test_refusals_are_one_line_and_write_nothing(exported, tmp_path):
    out = exported / "pkg.zip"
    before = out.read_bytes()
    r = run("export", exported / "model", out)
    assert r.exit_code == 2 and "--overwrite" in r.output and len(r.output.strip().splitlines()) == 1
    assert out.read_bytes() == before

    api.train(exported / "noisy.npy", tmp_path / "nrrn", method="nrrn", **TINY)  # predicts in several passes
    r = run("export", tmp_path / "nrrn", tmp_path / "a.zip")
    assert r.exit_code == 2 and "does not predict in one network pass" in r.output

    api.train(exported / "noisy.npy", tmp_path / "bg", neighbors=2, background=True, **TINY)
    r = run("export", tmp_path / "bg", tmp_path / "b.zip")
    assert r.exit_code == 2 and "background" in r.output and len(r.output.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    r = run("export", tmp_path / "empty", tmp_path / "c.zip")
    assert r.exit_code == 2 and "not a noise2stack model" in r.output
    r = run("export", exported / "model", tmp_path / "d.zip", "--format", "onnx")
    assert r.exit_code == 2 and "unknown --format" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg", "empty", "nrrn"]


def test_blindspot_model_exports_and_equals_predict(exported, tmp_path):
    """Plane i itself is an input channel (``z``) of a blind-spot model; the package still equals predict."""
    import torch

    from noise2stack.data.sampler import plane_inputs

    api.train(exported / "noisy.npy", tmp_path / "bs", mode="blindspot", neighbors=2, **TINY)
    model = api.load_model(tmp_path / "bs")
    with torch.no_grad():  # the head starts at zero: give plane i's blind branch a visible share
        torch.nn.init.normal_(model.net.head[-1].weight, std=0.1)
    noisy = np.load(exported / "noisy.npy")
    api.export(model, tmp_path / "bs.zip", sample=noisy)
    description = spec.load_description(tmp_path / "bs.zip", perform_io_checks=True)
    assert [str(n) for n in description.inputs[0].axes[1].channel_names] == ["z_minus_1", "z", "z_plus_1"]
    planes = [0, 3, 5]
    larger = np.pad(noisy, ((0, 0), (0, 40), (0, 16)), mode="reflect")  # not the traced 40x48: shapes stay free
    inputs = np.stack([plane_inputs(larger, z, model.neighbors, model.include_center) for z in planes])
    result = np.asarray(core.predict(model=description, inputs={"planes": inputs}).members["denoised"].data)
    expected = api.predict(model, larger, progress=False)[planes]
    assert result.shape == (3, 1, 80, 64)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(result[:, 0], expected, rtol=0, atol=1e-5 * scale)
