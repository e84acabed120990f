"""File writes the CLI does: atomic (temp file in the same directory, then rename), mode kept; devices in place."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, content: str, *, mode: int | None = None) -> bool:
    """Write `content` to `path` unless it already holds exactly that; returns whether it wrote.

    A reader never sees a half-written file, and an interrupted write leaves the old file intact.
    """
    data = content.encode("utf-8")
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        # A device or a pipe (/dev/stdout, a FIFO): written in place; renaming over it would replace the node.
        with path.open("wb") as handle:
            handle.write(data)
        return True
    try:
        if path.read_bytes() == data:
            return False
        keep_mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep_mode = None
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        final_mode = keep_mode if keep_mode is not None else mode
        if final_mode is None:
            umask = os.umask(0)
            os.umask(umask)
            final_mode = 0o666 & ~umask
        os.chmod(tmp, final_mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True
