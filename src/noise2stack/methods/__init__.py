"""Training strategies, found by name in :data:`METHODS`.

A method answers four questions (see the project's design notes, ``shared/DESIGN.md`` beside the
repository): what goes in, what the target is, where the loss looks and how a prediction is made.
Everything else (data pipeline, trainer, model folder, tiling) is shared.

Adding a method: a module here with its configuration section (a subclass of
:class:`~noise2stack.config_sections.AlgorithmConfig` with a ``method`` tag), its :class:`Method`
(``@register``), and one import line below. The config, the CLI's options and ``--help`` follow.
"""

from noise2stack.methods import n2c, n2sr, n2stack, n2v, nrrn, pn2v  # noqa: F401  (they register themselves)
from noise2stack.methods.base import METHODS, Capabilities, CompareRow, Method, get_method, register

#: The method trained when none is named: Noise2Stack, the paper this package implements.
DEFAULT_METHOD = "n2stack"

__all__ = ["DEFAULT_METHOD", "METHODS", "Capabilities", "CompareRow", "Method", "get_method", "register"]
