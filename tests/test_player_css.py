"""The player's stylesheets parse as flat CSS: every block closed where it should be.

A rule once lost its closing brace, and the browser read every rule after it (the whole node
inspector's styles) as nested inside `.agp-presentation .agp-autoplay input`, so none applied.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PLAYER = Path(__file__).resolve().parent.parent / "explorer" / "play" / "player"


def top_level_blocks(css: str) -> list[str]:
    """The selectors of the top-level blocks, failing on a brace that closes nothing or on a block
    left open. A rule nested inside another (other than in an @-rule) fails too: the player writes none."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    depth, selectors, start, outer = 0, [], 0, []
    for at, char in enumerate(text):
        if char == "{":
            selector = text[start:at].strip().split(";")[-1].strip()
            if depth == 0:
                selectors.append(selector)
                outer = [selector]
            else:
                assert outer[0].startswith("@"), f"{selector!r} is nested inside {outer[0]!r}"
            depth += 1
            start = at + 1
        elif char == "}":
            depth -= 1
            assert depth >= 0, f"a brace closes nothing, at character {at}"
            start = at + 1
    assert depth == 0, f"{depth} block(s) left open at the end"
    return selectors


@pytest.mark.parametrize("name", sorted(path.name for path in PLAYER.glob("*.css")))
def test_every_block_is_closed(name):
    selectors = top_level_blocks((PLAYER / name).read_text(encoding="utf-8"))
    assert len(selectors) > 3


def test_the_checker_fails_on_an_unclosed_rule():
    with pytest.raises(AssertionError, match="nested inside"):
        top_level_blocks(".a input {\n  width: 1em;\n\n.b { color: red; }\n")
    with pytest.raises(AssertionError, match="left open"):
        top_level_blocks(".a { color: red;")
    assert top_level_blocks("@media (x) { .a { color: red; } }\n.b { color: blue; }") == ["@media (x)", ".b"]
