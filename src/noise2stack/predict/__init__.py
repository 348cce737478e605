"""Prediction: one tiler with pluggable stitches, the engine that runs a model's method through it,
writers, and chunked (Zarr/Dask) prediction.

Modules: :mod:`~noise2stack.predict.options` (the validated options), :mod:`~noise2stack.predict.grid`
(where windows lie), :mod:`~noise2stack.predict.blend` and :mod:`~noise2stack.predict.cut` (the
stitches), :mod:`~noise2stack.predict.tiling` (the tiler), :mod:`~noise2stack.predict.engine` (a
model's prediction in memory), :mod:`~noise2stack.predict.writers` (files) and
:mod:`~noise2stack.predict.chunked` (OME-Zarr block by block).
"""

from noise2stack.predict.blend import blend_weights
from noise2stack.predict.grid import tile_starts
from noise2stack.predict.options import PredictOptions
from noise2stack.predict.tiling import predict_stack

__all__ = ["PredictOptions", "blend_weights", "predict_stack", "tile_starts"]
