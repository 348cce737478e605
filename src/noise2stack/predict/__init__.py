"""Prediction: tiling with seamless blending, batched over tiles and planes."""

from noise2stack.predict.tiling import blend_weights, predict_stack, tile_starts

__all__ = ["blend_weights", "predict_stack", "tile_starts"]
