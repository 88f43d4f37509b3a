"""Text that Streamlit renders as Markdown, made to show exactly as written."""

from __future__ import annotations

import re


# Markdown's own characters. Messages quote what a student typed (9**9**9, __import__, a $ sign),
# and Streamlit renders message text as Markdown (and $...$ as maths).
_MARKDOWN_CHARACTERS = re.compile(r"([\\*_\[\]$~<>#|])")


def literal(message: str) -> str:
    """A message as Markdown that shows its text as written: `code spans` stay code, every other
    Markdown character is escaped, so `9**9**9` is not turned into bold."""
    parts = re.split(r"(`[^`]*`)", message)
    return "".join(part if part.startswith("`") and part.endswith("`") and len(part) > 1
                   else _MARKDOWN_CHARACTERS.sub(r"\\\1", part) for part in parts)
