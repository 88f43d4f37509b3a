"""A static site of every lesson: index.html and one page per lesson, opened straight from disk.

Each lesson page is the standalone player (player.standalone_html: inline SVG, data, JS and
CSS, a Content-Security-Policy that forbids loading anything) with the lesson's explanation,
its code and links around it. Links are relative file names in one folder, so the site works
from file:// with no server and no network, and can be copied anywhere as it is.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Sequence

from explorer.errors import ExplorerError
from explorer.io.export import lesson_trace
from explorer.files import make_folder, write_atomic
from explorer.play.frames import build_animation
from explorer.functions.lesson_files import OWN_LESSONS_HEADING, OWN_LESSONS_LINE
from explorer.functions.lessons import CHAPTER_PAGES, EXTRA_PAGES, PAGES, Lesson, all_lessons
from explorer.play.player import PAGE_CSS, page_head, standalone_html
from explorer.values import format_number

INDEX = "index.html"
# What happened to .grad between a page's calls (a lesson file's ZERO), in its line under the code.
ZERO_HTML = {"none": "without clearing <code>.grad</code>", "zero": "with <code>.grad.zero_()</code> in between",
             "set-none": "with <code>.grad = None</code> in between"}
SITE_TITLE = "Autograd Explorer"
INDEX_CSP = "default-src 'none'; style-src 'unsafe-inline'"
# Where the lesson's text goes in the player's page: just before the player itself.
PLAYER_ANCHOR = '<div id="player"></div>'

SITE_CSS = """
.site-nav { display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; font-size: 0.9rem; margin: 0 0 0.8rem; }
.site-nav a, .lesson-list a { color: var(--st-primary-color); }
.lesson-text { line-height: 1.5; max-width: 60rem; }
.lesson-text code, .lesson-list code { font-size: 0.92em; }
.lesson-code { background: var(--st-secondary-background-color); border: 1px solid var(--st-border-color);
  border-radius: 6px; padding: 0.6rem 0.8rem; overflow: auto; }
.lesson-run { font-size: 0.92rem; opacity: 0.85; }
.lesson-list { line-height: 1.6; }
.lesson-list li p { margin: 0.1rem 0 0.5rem; font-size: 0.92rem; opacity: 0.85; }
"""


def page_name(lesson: Lesson) -> str:
    return f"{lesson.id}.html"


def site_calls(lesson: Lesson) -> int:
    """Lessons about repeated calls show three (the .grad history strip fills up), a lesson file its
    CALLS; the others one."""
    return lesson.repeated_calls[0]


def site_pages(lessons: Sequence[Lesson] | None = None) -> dict[str, str]:
    """File name -> HTML text, for the index and every lesson (the built-in ones unless `lessons`
    says which). A pure function of the lessons."""
    lessons = list(all_lessons() if lessons is None else lessons)
    pages = {INDEX: index_page(lessons)}
    for position, lesson in enumerate(lessons):
        before = lessons[position - 1] if position > 0 else None
        after = lessons[position + 1] if position + 1 < len(lessons) else None
        pages[page_name(lesson)] = lesson_page(lesson, before, after)
    return pages


def write_site(folder: str | os.PathLike, lessons: Sequence[Lesson] | None = None) -> list[Path]:
    """Write the site into `folder` (created if missing); returns the files written, index first."""
    pages = site_pages(lessons)  # everything is made before the first file is written
    folder = make_folder(folder)
    return [write_atomic(folder / name, text) for name, text in pages.items()]


def lesson_page(lesson: Lesson, before: Lesson | None = None, after: Lesson | None = None) -> str:
    calls, zero = lesson.repeated_calls
    trace = lesson_trace(lesson, None, calls, zero)
    page = standalone_html(build_animation(trace), lesson.title)
    if page.count(PLAYER_ANCHOR) != 1 or page.count("</head>") != 1:
        raise ExplorerError("The player's page has changed shape: cannot place the lesson's text in it.")
    links = [f'<a href="{INDEX}">All lessons</a>']
    if before is not None:
        links.append(f'<a href="{page_name(before)}" rel="prev">← {html.escape(before.title)}</a>')
    if after is not None:
        links.append(f'<a href="{page_name(after)}" rel="next">{html.escape(after.title)} →</a>')
    values = ", ".join(f"{name} = {format_number(value)}" for name, value in trace.values.items())
    grads = ", ".join(f"<code>{html.escape(name)}.grad</code> = {format_number(value)}"
                      for name, value in trace.passes[-1].grads_after.items())
    times = "once" if calls == 1 else f"{calls} times {ZERO_HTML[zero]}"
    text = (
        f'<nav class="site-nav">{" ".join(links)}</nav>\n'
        f'<section class="lesson-text">{markdown_html(lesson.full_text)}</section>\n'
        f'<pre class="lesson-code"><code>{html.escape(lesson.source.rstrip())}</code></pre>\n'
        f'<p class="lesson-run">At {html.escape(values)}, <code>.backward()</code> called {times}: '
        f'{grads} (from PyTorch). The player shows the last call.</p>\n'
    )
    page = page.replace("</head>", f"<style>{SITE_CSS}</style>\n</head>", 1)
    return page.replace(PLAYER_ANCHOR, text + PLAYER_ANCHOR, 1)


def index_page(lessons: list[Lesson]) -> str:
    sections = []
    built_in = {**PAGES, **CHAPTER_PAGES}
    groups = [(page_title, line, [lesson for lesson in lessons if lesson.page == page_key])
              for page_key, (page_title, line) in built_in.items()]
    # Lessons of no built-in page (lesson files) under their own heading, as in the app.
    groups.append((OWN_LESSONS_HEADING, OWN_LESSONS_LINE, [lesson for lesson in lessons if lesson.page not in built_in]))
    for page_title, line, listed in groups:
        items = "".join(
            f'<li><a href="{page_name(lesson)}">{html.escape(lesson.title)}</a>'
            f"<p>{_first_sentence(lesson.full_text)}</p></li>"
            for lesson in listed)
        if items:
            sections.append(f"<h2>{html.escape(page_title)}</h2>\n<p>{html.escape(line)}</p>\n"
                            f'<ul class="lesson-list">{items}</ul>')
    extra = ", ".join(html.escape(title) for title, _ in EXTRA_PAGES.values())
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
{page_head(SITE_TITLE, INDEX_CSP, PAGE_CSS, SITE_CSS)}
<body>
<main>
<h1>{SITE_TITLE}</h1>
<p class="lesson-text">What PyTorch's autograd really does, on real tensors: each page draws the graph autograd
recorded for a small function and plays a real <code>.backward()</code> step by step, in the engine's own order.
Every number was recorded from PyTorch when this site was written.</p>
{body}
<footer>A static copy of the lessons. The app itself (<code>make run</code>) also has: {extra}.</footer>
</main>
</body>
</html>
"""


def markdown_html(text: str) -> str:
    """The lessons' markdown (paragraphs and `code`), as HTML. Everything else is escaped text."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    return "".join(f"<p>{_inline(part)}</p>" for part in paragraphs)


def _inline(text: str) -> str:
    pieces = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(piece)}</code>" if index % 2 else html.escape(piece)
                   for index, piece in enumerate(pieces))


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text, flags=re.S)
    return _inline(match.group(1) if match else text)
