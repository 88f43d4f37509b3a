"""The backward-pass player: one JS module and one stylesheet, used by the app and by exports.

`player_js()` is the player's one module text, assembled from its files (see INNER_MODULES), and
`player_css()` its stylesheet (the Streamlit component is declared with them, in
explorer/ui/player.py); `widget_js()` and `widget_css()` are the same player as the notebook
widget's module (explorer/play/widget.py). `standalone_html()` puts the same player, its data and its styles into
one HTML file that works offline: no URL appears anywhere in it.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path

from explorer.play.frames import Animation
from explorer.values import json_text

HERE = Path(__file__).resolve().parent

# The page around a standalone player: the theme variables Streamlit would otherwise provide.
PAGE_CSS = """
:root {
  color-scheme: light dark;
  --st-text-color: #1f2328;
  --st-background-color: #ffffff;
  --st-secondary-background-color: #f0f2f6;
  --st-border-color: rgba(127, 127, 127, 0.35);
  --st-primary-color: #1f5fa8;
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme="light"]) {
    --st-text-color: #e6e6e6;
    --st-background-color: #0e1117;
    --st-secondary-background-color: #262730;
    --st-border-color: rgba(250, 250, 250, 0.2);
    --st-primary-color: #3b82f6;
  }
}
/* A page exported with a light look is light whatever the reader's system prefers. */
:root[data-theme="light"] { color-scheme: light; }
/* A page exported with a dark look is dark whatever the reader's system prefers. */
:root[data-theme="dark"] {
  color-scheme: dark;
  --st-text-color: #e6e6e6;
  --st-background-color: #0e1117;
  --st-secondary-background-color: #262730;
  --st-border-color: rgba(250, 250, 250, 0.2);
  --st-primary-color: #3b82f6;
}
body {
  margin: 0;
  background: var(--st-background-color);
  color: var(--st-text-color);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.25rem 2rem; }
h1 { font-size: 1.35rem; margin: 0.2rem 0 0.8rem; }
footer { margin-top: 1rem; font-size: 0.8rem; opacity: 0.7; }
/* Lecturer mode: the page around the player is as large as the player's own text. */
.presentation main { max-width: none; padding: 1rem 2rem 2rem; }
.presentation h1 { font-size: 2rem; }
.presentation footer { font-size: 1.25rem; opacity: 1; }
"""

# Nothing may load from anywhere: the file is the whole app.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


# The player is written as ES modules: the view, player.js, imports the DOM-free parts (cursor.mjs,
# which Node's test runner imports in tests/js/). Streamlit loads ONE module text from a blob URL,
# where a relative import cannot resolve, and the standalone page inlines one <script>. So
# player_js() assembles one module, the same way every time: each inner module of INNER_MODULES,
# in that order, with the `export ` that starts a line removed (its names become plain top-level
# names), then player.js with its one-line `import ... from "./<inner module>";` lines removed.
# player.js keeps its own exports (mountPlayer, the default export Streamlit calls). The order:
# cursor.mjs (frames cursor, playing, reporting), then inspector.mjs (the node inspector's panel
# and tooltips); neither uses the other, and player.js uses both.
INNER_MODULES = ("cursor.mjs", "inspector.mjs")
VIEW_MODULE = "player.js"
_EXPORT = re.compile(r"^export (?=const |let |function |class )", re.MULTILINE)
_INNER_IMPORT = re.compile(r'^import \{[^}\n]*\} from "\./([\w.-]+)";\n', re.MULTILINE)


@functools.lru_cache(maxsize=1)
def player_js() -> str:
    parts = []
    for name in INNER_MODULES:
        text = (HERE / name).read_text(encoding="utf-8")
        stripped = _EXPORT.sub("", text)
        if re.search(r"^\s*(export|import)\b", stripped, re.MULTILINE):
            raise ValueError(f"{name}: an inner module may only export `const`, `let`, `function` "
                             "or `class` declarations, one `export` a line, and import nothing")
        parts.append(f"// ---- {name} ----\n{stripped}")
    view = (HERE / VIEW_MODULE).read_text(encoding="utf-8")
    imported = _INNER_IMPORT.findall(view)
    if sorted(imported) != sorted(INNER_MODULES):
        raise ValueError(f"{VIEW_MODULE} must import each of {INNER_MODULES} once, on one line; it imports {imported}")
    view = _INNER_IMPORT.sub("", view)
    if re.search(r"^\s*import\b", view, re.MULTILINE):
        raise ValueError(f"{VIEW_MODULE}: Streamlit's one module text cannot import anything else")
    parts.append(f"// ---- {VIEW_MODULE} ----\n{view}")
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def player_css() -> str:
    return (HERE / "player.css").read_text(encoding="utf-8")


# A module has one default export: Streamlit's is player.js's own, the notebook widget's is
# widget.mjs's. widget_js() keeps the Streamlit entry as a plain function, then adds widget.mjs.
WIDGET_MODULE = "widget.mjs"
_STREAMLIT_ENTRY = re.compile(r"^export default function \(component\) \{$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def widget_js() -> str:
    """The player as an anywidget module: player_js(), then widget.mjs (the buttons and the messages)."""
    text, found = _STREAMLIT_ENTRY.subn("function streamlitComponent(component) {", player_js())
    if found != 1:
        raise ValueError(f"{VIEW_MODULE} must have one line `export default function (component) {{`")
    widget = (HERE / WIDGET_MODULE).read_text(encoding="utf-8")
    if re.search(r"^\s*import\b", widget, re.MULTILINE):
        raise ValueError(f"{WIDGET_MODULE} is pasted after the player: it imports nothing")
    return f"{text}\n// ---- {WIDGET_MODULE} ----\n{widget}"


@functools.lru_cache(maxsize=1)
def widget_css() -> str:
    """The widget's stylesheet (its buttons, JupyterLab's theme colours), then the player's. The
    widget's goes first: a rule left open in a stylesheet swallows whatever is appended after it."""
    return (HERE / "widget.css").read_text(encoding="utf-8") + "\n" + player_css()


def page_head(title: str, csp: str, *styles: str) -> str:
    """The <head> of a page that loads nothing (a standalone player, a static site's index)."""
    sheets = "\n".join(f"<style>{style}</style>" for style in styles)
    return f"""<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{html.escape(title)}</title>
{sheets}
</head>"""


def standalone_html(animation: Animation, title: str) -> str:
    """One self-contained HTML page that plays the animation (inline SVG, data, JS and CSS)."""
    js = player_js()
    if "</script" in js.lower():
        raise ValueError("the player's JS must not contain '</script', it is inlined into a <script> element")
    # In a <script> element only "</" can end it early; "<\/" means the same inside a JSON string.
    data = json_text(animation.to_dict(), indent=None, ensure_ascii=False).replace("</", "<\\/")
    escaped_title = html.escape(title)
    # Always named: a light export without it took the dark colours from a dark system preference,
    # a dark frame round its white graph.
    theme = f' data-theme="{"dark" if animation.dark else "light"}"'
    presentation = ' class="presentation"' if animation.presentation else ""
    return f"""<!DOCTYPE html>
<html lang="en"{theme}{presentation}>
{page_head(title, CSP, PAGE_CSS, player_css())}
<body>
<main>
<h1>{escaped_title}</h1>
<div id="player"></div>
<footer>Recorded from PyTorch's real backward pass by Autograd Explorer. Keys: Space play/pause,
← → step, Home restart, End jump to the end, ? the list of keys.</footer>
</main>
<script type="application/json" id="player-data">{data}</script>
<script type="module">
{js}
const data = JSON.parse(document.getElementById("player-data").textContent);
mountPlayer(document.getElementById("player"), data);
</script>
</body>
</html>
"""
