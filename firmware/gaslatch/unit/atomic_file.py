"""A file replaced whole: a reader, and the next start after a power cut, find the old file or the new one, never a mix.
The one writer for the unit (sim GPIO values, ids of accepted commands) and the host tools (record, config, report)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

FILE_MODE = 0o640


def write_atomically(path: str, data: bytes, mode: int = FILE_MODE, durable: bool = True,
                     before_replace: Callable[[], object] | None = None) -> None:
    """Write data to a temporary file beside path, then rename it over path.

    The file gets `mode` whatever the umask, and keeps an existing file's owner where we may set it (root
    installing a configuration). durable: fsync the file before the rename and the folder after it, so the
    new file survives a power cut; files rewritten at every change that need not (sim GPIO values) skip it.
    before_replace: called with the file written, just before the rename that shows it (the bench times a
    line's change from it). Raises OSError, with no temporary file left behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    # pid and thread: two writers of one path, in two processes or two threads, never share a temporary file
    temp = os.path.join(directory, ".%s.%d.%d.tmp" % (os.path.basename(path), os.getpid(), threading.get_ident()))
    try:
        owner: os.stat_result | None = os.stat(path)
    except OSError:
        owner = None
    _remove(temp)  # left by a writer that died here with the same pid and thread
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(fd, mode)
            if owner is not None and (owner.st_uid, owner.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(fd, owner.st_uid, owner.st_gid)
                except PermissionError:
                    pass  # not root: the file is ours, and the mode still limits who reads it
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(fd)
        if before_replace is not None:
            before_replace()
        os.replace(temp, path)
    except BaseException:
        _remove(temp)
        raise
    if durable:
        folder = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
