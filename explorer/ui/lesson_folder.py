"""The lecturer's lesson folder in the app: named by an environment variable, loaded again only
when one of its files changes.

`make run LESSONS=DIR` and `autograd-explorer app --lessons DIR` set LESSONS_VARIABLE for the
server (the folder is on the server's disk; nothing comes from a browser). The loaded lessons
are plain functions and numbers, shared by every session: a lesson file's tensors that require
grad are refused when it loads, and each student's leaves are made in their own session.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from explorer.functions.lesson_files import (LESSONS_VARIABLE, OWN_LESSONS_HEADING, FileLesson, LessonFileError,
                                             LessonFolder, load_folder)


def lesson_folder_setting() -> str | None:
    return os.environ.get(LESSONS_VARIABLE) or None


def own_lessons() -> LessonFolder | None:
    """The folder's lessons and problems, or None when the server was started without a folder."""
    folder = lesson_folder_setting()
    if folder is None:
        return None
    try:
        return _load(folder, _signature(folder))
    except LessonFileError as error:
        return LessonFolder(folder, (), (error,))


def own_lesson(page_key: str) -> FileLesson | None:
    loaded = own_lessons()
    return next((lesson for lesson in loaded.lessons if lesson.page == page_key), None) if loaded else None


def own_sections() -> dict[str, dict[str, tuple[str, str]]]:
    """The folder's lessons as a section of pages (page key -> title, one line), or none."""
    loaded = own_lessons()
    if loaded is None or not loaded.lessons:
        return {}
    return {OWN_LESSONS_HEADING: {lesson.page: (lesson.title, _first_line(lesson)) for lesson in loaded.lessons}}


def _first_line(lesson: FileLesson) -> str:
    sentence = lesson.explanation.split(". ")[0].strip().replace("\n", " ")
    return sentence if sentence.endswith(".") or not sentence else sentence + "."


def _signature(folder: str) -> tuple:
    """What the cache is keyed on: each lesson file's name, size and time of change."""
    try:
        return tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(Path(folder).glob("*.py")))
    except OSError:
        return ()


# Shared by every session, which is safe: a loaded lesson holds plain numbers and functions, and a file
# with a tensor that requires grad at its top (or a layer, or a list of such tensors) is refused on load
# (lesson_files._refuse_global_leaves); each session makes its own leaves from the numbers.
@st.cache_resource(show_spinner=False, max_entries=4)
def _load(folder: str, signature: tuple) -> LessonFolder:
    return load_folder(folder)
