"""Network architectures, found by name in :data:`NETS`."""

from noise2stack.nets.n2sr import N2SRUNet
from noise2stack.nets.nrrn import NRRN
from noise2stack.nets.unet import NETS, CSBDeepUNet, N2NUNet, build_net

NETS.update({"n2sr-unet": N2SRUNet, "nrrn": NRRN})
# networks that only one training method can use (its input and output differ from the U-Nets')
METHOD_OF_NET = {"n2sr-unet": "n2sr", "nrrn": "nrrn"}

__all__ = ["NETS", "METHOD_OF_NET", "CSBDeepUNet", "N2NUNet", "N2SRUNet", "NRRN", "build_net"]
