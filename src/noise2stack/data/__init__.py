"""Plane sampling, normalisation, patches and augmentation."""

from noise2stack.data.normalize import Normalizer, fit_normalizer
from noise2stack.data.patches import PatchSource, augment_dihedral, augment_translate
from noise2stack.data.sampler import (
    check_neighbors,
    input_offsets,
    min_planes,
    neighbor_index,
    plane_indices,
    plane_inputs,
)

__all__ = [
    "Normalizer",
    "PatchSource",
    "augment_dihedral",
    "augment_translate",
    "check_neighbors",
    "fit_normalizer",
    "input_offsets",
    "min_planes",
    "neighbor_index",
    "plane_indices",
    "plane_inputs",
]
