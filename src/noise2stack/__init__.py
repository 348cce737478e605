"""noise2stack: self-supervised denoising of image stacks."""

__version__ = "0.1.0"
