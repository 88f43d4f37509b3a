"""Text that Streamlit renders as Markdown, made to show exactly as written."""

from __future__ import annotations

import re


# Markdown's own characters. Messages quote what a student typed (9**9**9, __import__, a $ sign),
# and Streamlit renders message text as Markdown (and $...$ as maths).
_MARKDOWN_CHARACTERS = re.compile(r"([\\*_\[\]$~<>#|])")


def literal(message: str) -> str:
    """A message as Markdown that shows its text as written: `code spans` and lines indented by four
    spaces (a code block, such as the quoted expression under a syntax error's caret) stay code, and
    every other Markdown character is escaped, so `9**9**9` is not turned into bold."""
    return "\n".join(line if line.startswith("    ") else _escaped(line) for line in message.split("\n"))


def _escaped(line: str) -> str:
    parts = re.split(r"(`[^`]*`)", line)
    return "".join(part if part.startswith("`") and part.endswith("`") and len(part) > 1
                   else _MARKDOWN_CHARACTERS.sub(r"\\\1", part) for part in parts)
