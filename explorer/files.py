"""Writing files so that an error never leaves half of one behind.

The bytes are made first, written to a temporary file in the target's own folder, and only
then moved over the target with os.replace (atomic on one file system). A failure at any
point removes the temporary file; the target is either the old file, untouched, or the new one.
A symbolic link is written through (the file it points to changes, the link stays a link), and
a target that is not a regular file (/dev/stdout, a pipe) is written to directly, as a shell's
`>` would: there is nothing to replace there. A file that is replaced keeps its permissions,
and a read-only one is refused, as `>` refuses it.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from explorer.errors import ExplorerError


# The most bytes in one file or folder name on the file systems this runs on (ext4, tmpfs, APFS, NTFS).
NAME_MAX = 255


def check_target(path: str | os.PathLike) -> Path:
    """The file that writing `path` will replace (a symbolic link's target), or the device or pipe it
    names, checked before any work is done; an ExplorerError (one line) for a path that cannot be written."""
    if not str(path).strip():
        raise ExplorerError("Please give a file name to write, such as graph.svg.")
    target = Path(path)
    _check_names(target, "write")
    try:
        if target.exists() and not target.is_file() and not target.is_dir():
            return target  # a device or a pipe
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        if target.is_dir():
            raise ExplorerError(f"Cannot write {target}: it is a folder; give a file name such as "
                                f"{target / 'graph.svg'}.")
        if not target.parent.is_dir():
            raise ExplorerError(f"Cannot write {target}: the folder {target.parent} does not exist.")
        if target.exists() and not _writable(target):
            # A shell's `>` refuses a read-only file too; replacing it would quietly undo its owner's chmod.
            raise ExplorerError(f"Cannot write {target}: the file is read-only, so it was left as it is; "
                                f"make it writable (chmod u+w) or choose another name.")
    except OSError as error:
        raise ExplorerError(f"Cannot write {_short(str(target))}: {_reason(error)}.") from None
    return target


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to `path` atomically; an ExplorerError (one line) says why it could not be written.
    A file that is replaced keeps its permissions (a private 0600 file stays private)."""
    target = check_target(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if target.exists() and not target.is_file():
        return _write_stream(target, data)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    temporary = target.parent / _temporary_name(target.name)
    try:
        # O_EXCL: never follow or reuse an existing name; mode 0o666 lets the umask decide, as open() does.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise ExplorerError(f"Cannot write {target}: {_reason(error)}.") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
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


def _writable(target: Path) -> bool:
    """Whether the owner may write the file: os.access alone says yes to root for any file."""
    return bool(target.stat().st_mode & stat.S_IWUSR) and os.access(target, os.W_OK)


def _temporary_name(name: str) -> str:
    """A hidden name beside the target that stays within NAME_MAX bytes however long the target's
    name (a legal 250-byte name plus the suffix would not be)."""
    suffix = f".{uuid.uuid4().hex[:12]}.tmp"
    room = NAME_MAX - 1 - len(suffix)
    stem = os.fsencode(name)[:room].decode("utf-8", errors="ignore")  # never half a character
    return f".{stem}{suffix}"


def _check_names(path: Path, verb: str) -> None:
    """Each name in the path within NAME_MAX bytes; the file system's own refusal is a traceback
    from any call that touches the path, even Path.exists()."""
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            which = "its name" if part == path.name else f"the name {_short(part)} in it"
            raise ExplorerError(f"Cannot {verb} {_short(str(path))}: {which} is {size} bytes long; "
                                f"the most is {NAME_MAX} bytes.")


def _short(text: str) -> str:
    """A long path, shortened for a one-line message."""
    return text if len(text) <= 60 else f"{text[:30]}…{text[-25:]}"


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
    _check_names(folder, "export into")
    try:
        if folder.exists() and not folder.is_dir():
            raise ExplorerError(f"Cannot export into {folder}: it is a file, not a folder.")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExplorerError(f"Cannot create the folder {folder}: {_reason(error)}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExplorerError(f"Cannot export into {folder}: permission denied.")
    return folder


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).rstrip(".").lower()
