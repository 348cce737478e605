"""A real napari window (Qt on X, run under Xvfb) with the plugin's train widget docked beside the
shipped example stack; writes a screenshot of the whole viewer to the path given.

    xvfb-run -a -s "-screen 0 1600x1000x24" python tests/napari_viewer_shot.py docs/napari_viewer.png

``tests/test_napari_viewer.py`` runs it; the same command refreshes the picture in ``docs/``.
"""

import os
import sys
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*PyQt5 backend is deprecated.*")
# napari saves changed settings; a settings file of our own leaves the user's untouched
os.environ["NAPARI_CONFIG"] = str(Path(tempfile.mkdtemp()) / "settings.yaml")

import napari  # noqa: E402
from napari.settings import get_settings  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

from noise2stack.demo import example_stack  # noqa: E402


def main(out: str) -> None:
    # napari's own toast about the PyQt5 backend would cover the picture; only errors pop up
    get_settings().application.gui_notification_level = "error"
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    viewer.add_image(example_stack(), name="arabidopsis embryo (example stack)")
    viewer.dims.set_point(0, 53)
    dock, widget = viewer.window.add_plugin_dock_widget("noise2stack", "Train and denoise")
    for _ in range(20):  # let Qt lay the dock out before the picture
        QApplication.processEvents()
    image = viewer.screenshot(path=out, canvas_only=False, flash=False)
    print(type(widget).__name__, dock.isVisible(), image.shape, round(float(image.std()), 1))
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1])
