"""Griffe extension for the API reference: the reStructuredText bits of the docstrings as Markdown.

The docstrings are NumPy style with Sphinx habits; mkdocstrings renders Markdown. At build time (the
source is not changed) this turns

* roles such as ``:func:`~noise2stack.api.train``` into code (``train``; ``~`` keeps the last name),
* ``>>>`` doctest lines into a fenced ``pycon`` block,
* a paragraph ending in ``::`` (a literal block follows) into one ending in ``:``.

Loaded by ``mkdocs.yml`` (``extensions`` of the mkdocstrings Python handler).
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|mod|data|meth|attr|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.split('.')[-1] if tilde else target}`"


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(lines[i][len(indent) :])
            i += 1
        out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
    return "\n".join(out)


def rst_to_markdown(text: str) -> str:
    text = ROLE.sub(_role, text)
    text = re.sub(r"(\S)::[ \t]*$", r"\1:", text, flags=re.M)
    return _fence_doctests(text)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
