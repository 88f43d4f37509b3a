"""Messages quote what students type; shown through Markdown they must read as typed."""

import pytest

from explorer.ui.markdown import literal
from support import shown


@pytest.mark.parametrize("text", [
    "a huge power such as 9**9**9",
    "Names starting with '_' (such as __import__) are Python internals",
    "costs $5 and [a link](http://example.invalid) <b>bold</b> ~~struck~~ # not a heading | not a table",
    r"a back\slash",
])
def test_every_markdown_character_outside_code_is_escaped(text):
    escaped = literal(text)
    assert shown(escaped) == text
    for character in "*_[]$~<>#|":
        assert escaped.count(character) == escaped.count("\\" + character)  # none is left bare


def test_code_spans_stay_code():
    assert literal("write `x**2` or x**2") == "write `x**2` or x\\*\\*2"


def test_a_code_block_under_a_message_stays_as_typed():
    """A syntax error quotes the expression in an indented code block, with a caret under the column."""
    message = "Python cannot read this expression (invalid syntax), at column 8:\n\n    x**2 + *y\n           ^"
    escaped = literal(message)
    assert escaped.split("\n")[2:] == ["    x**2 + *y", "           ^"]  # no backslash moves the caret
