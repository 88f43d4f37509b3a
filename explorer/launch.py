"""`python -m explorer app` (and `autograd-explorer app`): the Streamlit app, from wherever the package is installed.

The app's entrypoint, pages and settings ship inside the package (explorer/ui/app/), so the same
command serves them from a checkout, an editable install or a wheel in site-packages. Streamlit runs
as `python -m streamlit run`, exactly as when started by hand (nothing outside explorer/ui imports
Streamlit).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from explorer.errors import ExplorerError
from explorer.functions.lesson_files import LESSONS_VARIABLE

ENTRYPOINT = Path(__file__).resolve().parent / "ui" / "app" / "Home.py"
DEFAULT_PORT = 8501


def app_command(port: int = DEFAULT_PORT, streamlit_args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command that serves the app: this Python's Streamlit, the packaged entrypoint, the port, and
    any further `streamlit run` options (--server.address 127.0.0.1, --theme.base dark, ...)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ExplorerError(f"The port must be a whole number from 1 to 65535, not {port}.")
    if importlib.util.find_spec("streamlit") is None:
        raise ExplorerError("The app needs Streamlit: pip install 'streamlit>=1.67' into this environment.")
    return [sys.executable, "-m", "streamlit", "run", str(ENTRYPOINT), "--server.port", str(port), *streamlit_args]


def lesson_folder(lessons: str | os.PathLike) -> str:
    """--lessons DIR as the absolute path the server reads from LESSONS_VARIABLE (Streamlit's own
    options have no room for it, and the server's working folder may differ)."""
    folder = Path(lessons).expanduser().resolve()
    if not folder.is_dir():
        raise ExplorerError(f"The lesson folder {lessons} does not exist or is not a folder.")
    return str(folder)


def run_app(port: int = DEFAULT_PORT, streamlit_args: list[str] | tuple[str, ...] = (),
            lessons: str | os.PathLike | None = None) -> int:
    """Become the Streamlit server (this process is replaced, so Ctrl+C and a stop signal reach Streamlit
    itself, and no server is left behind when the command is stopped)."""
    command = app_command(port, streamlit_args)
    if lessons is not None:
        os.environ[LESSONS_VARIABLE] = lesson_folder(lessons)  # the server inherits this environment
    os.execv(command[0], command)
    return 0  # not reached: execv returns only by raising
