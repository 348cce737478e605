"""Training strategies, found by name in :data:`METHODS`.

A method answers four questions (see DESIGN.md): what goes in, what the target is, where the loss
looks and how a prediction is made. Everything else (data pipeline, trainer, model folder, tiling)
is shared.
"""

from noise2stack.methods import n2c, n2sr, n2stack, n2v, nrrn, pn2v  # noqa: F401  (they register themselves)  # noqa: F401
from noise2stack.methods.base import METHODS, Capabilities, CompareRow, Method, get_method, register

__all__ = ["METHODS", "Capabilities", "CompareRow", "Method", "get_method", "register"]
