"""Writing files so that an error never leaves half of one behind.

The bytes are made first, written to a temporary file in the target's own folder, and only
then moved over the target with os.replace (atomic on one file system). A failure at any
point removes the temporary file; the target is either the old file, untouched, or the new one.
A symbolic link is written through (the file it points to changes, the link stays a link), and
a target that is not a regular file (/dev/stdout, a pipe) is written to directly, as a shell's
`>` would: there is nothing to replace there.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from explorer.errors import ExplorerError


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to `path` atomically; an ExplorerError (one line) says why it could not be written."""
    target = Path(path)
    if not str(path).strip():
        raise ExplorerError("Please give a file name to write, such as graph.svg.")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if target.exists() and not target.is_file() and not target.is_dir():
        return _write_stream(target, data)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent
    if target.is_dir():
        raise ExplorerError(f"Cannot write {target}: it is a folder; give a file name such as {target / 'graph.svg'}.")
    if not folder.is_dir():
        raise ExplorerError(f"Cannot write {target}: the folder {folder} does not exist.")
    temporary = folder / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        # O_EXCL: never follow or reuse an existing name; mode 0o666 lets the umask decide, as open() does.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise ExplorerError(f"Cannot write {target}: {_reason(error)}.") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise ExplorerError(f"Cannot write {target}: {_reason(error)}.") from None
        raise
    return target


def _write_stream(target: Path, data: bytes) -> Path:
    """A device or a pipe (such as /dev/stdout): write straight into it."""
    try:
        with open(target, "wb") as stream:
            stream.write(data)
    except OSError as error:
        raise ExplorerError(f"Cannot write {target}: {_reason(error)}.") from None
    return target


def make_folder(path: str | os.PathLike) -> Path:
    """A folder to export into, created with its parents if missing; an ExplorerError if that is impossible."""
    if not str(path).strip():  # Path("") is the working folder: never export there by accident
        raise ExplorerError("Please give a folder to export into, such as exports/.")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ExplorerError(f"Cannot export into {folder}: it is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExplorerError(f"Cannot create the folder {folder}: {_reason(error)}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExplorerError(f"Cannot export into {folder}: permission denied.")
    return folder


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).rstrip(".").lower()
