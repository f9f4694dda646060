"""Reading literal blocks of README.rst and docs/*.rst, for the tests that run what they document."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def literal_blocks(text: str, heading: str) -> list[str]:
    """The ``::`` blocks of one section of a reStructuredText page, dedented."""
    start = text.index(heading + "\n")
    end = re.search(r"\n[^\n]+\n[-~=]{4,}\n", text[start + len(heading) + 1 :])
    section = text[start : start + len(heading) + 1 + end.start()] if end else text[start:]
    blocks = []
    for match in re.finditer(r"::\n\n((?:(?: {4}[^\n]*)?\n)+)", section):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks
