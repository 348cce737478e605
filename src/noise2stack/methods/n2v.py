"""Noise2Void (Krull et al. 2019), the blind-spot baseline of the Noise2Stack paper.

Input = the plane itself with a few pixels replaced (:mod:`noise2stack.data.blindspot`), target =
the plane, loss on the replaced pixels only. Works on single 2-D images and on stacks (planes are
independent, as the paper's baseline). ``n2v_replacement="median"`` is the N2V2 replacement; use it
with ``--net n2v2-unet`` (blur-pool, no top skip) against checkerboard artefacts.
"""

from __future__ import annotations

import numpy as np

from noise2stack.config import TrainConfig
from noise2stack.data.blindspot import mask_patch
from noise2stack.errors import Noise2StackError
from noise2stack.methods.base import Capabilities, Method, TargetKind, register


@register
class Noise2Void(Method):
    name = "n2v"
    capabilities = Capabilities(needs_stack=False)
    defaults = {"neighbors": 0, "residual": False}  # as the n2v package's default U-Net

    def include_center(self, config: TrainConfig) -> bool:
        return True

    def target_kind(self, config: TrainConfig) -> TargetKind:
        return "self"

    def check(self, config: TrainConfig) -> None:
        if config.neighbors != 0:
            raise Noise2StackError("--method n2v sees one plane; --neighbors must be 0")

    def transform(self, inputs: np.ndarray, target: np.ndarray, rng: np.random.Generator, config: TrainConfig):
        masked, mask = mask_patch(inputs, config.n2v_fraction, rng, config.n2v_replacement, config.n2v_window)
        return masked, target, mask
