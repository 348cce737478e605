"""napari plugin, headless (QT_QPA_PLATFORM=offscreen): reader, train widget with progress and cancel, apply widget."""

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
napari = pytest.importorskip("napari", reason="napari tests need pip install 'noise2stack[napari]'")
pytest.importorskip("pytestqt", reason="napari tests need pytest-qt (pip install 'noise2stack[napari]')")

from noise2stack import api  # noqa: E402
from noise2stack import napari_plugin as plugin  # noqa: E402

TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--patch", "16", "--batch", "4"]


def stack():
    from scipy import ndimage

    field = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(6, 32, 32)), (1.5, 3, 3))
    return (100 + 1000 * field + np.random.default_rng(1).normal(0, 5, field.shape)).astype(np.float32)


@pytest.fixture
def viewer(qtbot):
    # The widgets need the layer list only; ViewerModel has no OpenGL canvas, which headless CI lacks.
    from napari.components import ViewerModel

    return ViewerModel()


def test_manifest_and_reader(tmp_path):
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(os.path.join(os.path.dirname(plugin.__file__), "napari.yaml"))
    assert {w.display_name for w in manifest.contributions.widgets} == {
        "Train and denoise",
        "Denoise with a trained model",
    }
    data = stack()
    np.save(tmp_path / "s.npy", data)
    read = plugin.get_reader(str(tmp_path / "s.npy"))
    [(array, meta, kind)] = read(str(tmp_path / "s.npy"))
    np.testing.assert_array_equal(array, data)
    assert (meta["name"], kind) == ("s", "image")
    assert plugin.get_reader(str(tmp_path / "s.csv")) is None


def test_train_widget_adds_the_denoised_layer(viewer, qtbot, tmp_path):
    data = stack()
    viewer.add_image(data, name="cells")
    widget = plugin.TrainWidget(viewer)
    widget.folder.setText(str(tmp_path))
    widget.neighbors.setValue(2)
    widget.budget.setValue(30)
    widget.extra_options = TINY
    assert [widget.mode.itemText(i) for i in range(widget.mode.count())] == ["self", "blindspot"]
    widget.mode.setCurrentText("blindspot")  # the mode that sees plane i through a blind spot
    widget.start()
    assert not widget.train_button.isEnabled() and widget.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: widget.train_button.isEnabled(), timeout=60_000)
    assert "cells denoised" in viewer.layers, widget.status.text()
    result = viewer.layers["cells denoised"].data
    assert api.load_model(widget.model_dir).config.algorithm.mode == "blindspot"
    expected = api.predict(widget.model_dir, data, progress=False)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5 * float(np.abs(expected).max()))
    assert widget.progress.value() == 100 and widget.train_button.isEnabled()


def test_cancel_stops_training(viewer, qtbot, tmp_path):
    viewer.add_image(stack(), name="cells")
    widget = plugin.TrainWidget(viewer)
    widget.folder.setText(str(tmp_path))
    widget.extra_options = ["--epochs", "1000", "--steps-per-epoch", "2", "--patch", "16", "--batch", "4"]
    widget.start()
    qtbot.waitUntil(
        lambda: widget.process is not None and (widget.model_dir / "training_log.csv").is_file(), timeout=60_000
    )
    widget.cancel()
    qtbot.waitUntil(lambda: widget.train_button.isEnabled(), timeout=60_000)
    assert widget.cancelled and widget.process.returncode is not None
    assert "cells denoised" in viewer.layers  # best weights so far are applied
    epochs = len((widget.model_dir / "training_log.csv").read_text().splitlines()) - 1
    assert epochs < 1000


def test_apply_widget(viewer, qtbot, tmp_path):
    data = stack()
    np.save(tmp_path / "s.npy", data)
    api.train(
        tmp_path / "s.npy",
        tmp_path / "model",
        progress=False,
        epochs=1,
        steps_per_epoch=2,
        patch=16,
        batch=4,
        val_patches=4,
    )
    viewer.add_image(data, name="cells")
    widget = plugin.ApplyWidget(viewer)
    widget.folder.setText(str(tmp_path / "nothing"))
    widget.start()
    assert widget.status.text().startswith("error: model folder not found")
    widget.folder.setText(str(tmp_path / "model"))
    widget.start()
    qtbot.waitUntil(lambda: "cells denoised" in viewer.layers, timeout=30_000)
    np.testing.assert_array_equal(
        viewer.layers["cells denoised"].data, api.predict(tmp_path / "model", data, progress=False)
    )


def test_mode_is_offered_only_where_there_is_a_choice(viewer):
    widget = plugin.TrainWidget(viewer)
    assert widget.mode.isEnabled() and widget.method.currentText() == "n2stack"
    widget.method.setCurrentText("n2v")
    assert not widget.mode.isEnabled() and widget.mode.currentText() == "self"
