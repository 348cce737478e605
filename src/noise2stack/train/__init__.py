"""Training: the Lightning module, the deterministic batch pipeline, and :func:`fit`."""

from noise2stack.train.fit import fit, split_planes

__all__ = ["fit", "split_planes"]
