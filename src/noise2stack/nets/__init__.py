"""Network architectures, found by name in :data:`NETS`."""

from noise2stack.nets.unet import NETS, CSBDeepUNet, N2NUNet, build_net

__all__ = ["NETS", "CSBDeepUNet", "N2NUNet", "build_net"]
