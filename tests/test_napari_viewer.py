"""The plugin in a real napari viewer: a Qt window on an X server (Xvfb, software OpenGL), not a model."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def test_the_train_widget_docks_in_a_real_viewer(tmp_path):
    if shutil.which("xvfb-run") is None:
        pytest.fail("needs xvfb-run: apt-get install xvfb (and the xcb libraries .ci/run installs); never skipped")
    out = tmp_path / "viewer.png"
    script = Path(__file__).with_name("napari_viewer_shot.py")
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    widget, visible, *_ = result.stdout.strip().splitlines()[-1].split()  # the script's own line comes last
    assert (widget, visible) == ("TrainWidget", "True")
    from imageio.v3 import imread

    image = imread(out)
    assert image.shape[:2] == (900, 1500) and float(np.std(image[..., :3])) > 10  # a picture, not a blank
