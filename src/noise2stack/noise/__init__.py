"""Noise simulation."""

from noise2stack.noise.simulate import NOISE_KINDS, add_noise

__all__ = ["NOISE_KINDS", "add_noise"]
