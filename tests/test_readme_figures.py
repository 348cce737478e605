"""Every figure in the README stands in the result file the README cites for it (issue 25: claims rebuilt
from files). A figure is a decimal number; its citation is the backquoted result path of its list item."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"`(benchmarks/[\w./-]+\.md)`")
FIGURE = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


def _items(text: str) -> list[str]:
    """The README's list items and paragraphs, each joined into one line."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("- ") or not line.strip():
            if current:
                blocks.append(" ".join(current))
            current = [line[2:]] if line.startswith("- ") else []
        else:
            current.append(line.strip())
    if current:
        blocks.append(" ".join(current))
    return blocks


def _cited_figures() -> list[tuple[str, str, str]]:
    found = []
    for item in _items((ROOT / "README.md").read_text(encoding="utf-8")):
        for path in CITATION.findall(item):
            found += [(figure, path, item[:60]) for figure in FIGURE.findall(CITATION.sub("", item))]
    return found


def test_the_readme_cites_figures():
    assert len(_cited_figures()) >= 10  # the measured section is there and parsed


def test_every_cited_figure_is_in_its_file():
    missing = [
        f"{figure} not in {path} ({item}...)"
        for figure, path, item in _cited_figures()
        if not (ROOT / path).is_file() or figure not in (ROOT / path).read_text(encoding="utf-8")
    ]
    assert not missing, "\n".join(missing)


def test_every_figure_of_the_measured_section_has_a_citation():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("What was measured", 1)[1].split("\n\n", 2)[1]
    uncited = [item[:60] for item in _items(section) if FIGURE.search(item) and not CITATION.search(item)]
    assert not uncited, uncited
