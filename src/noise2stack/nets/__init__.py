"""Network architectures, found by name in :data:`NETS`."""

from noise2stack.nets.n2sr import N2SRUNet
from noise2stack.nets.nrrn import NRRN
from noise2stack.nets.unet import NETS, CSBDeepUNet, N2NUNet, build_net

NETS.update({"n2sr-unet": N2SRUNet, "nrrn": NRRN})  # type: ignore[dict-item]  # builders of other nets

__all__ = ["NETS", "CSBDeepUNet", "N2NUNet", "N2SRUNet", "NRRN", "build_net"]
