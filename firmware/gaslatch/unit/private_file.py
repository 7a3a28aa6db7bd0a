"""Files holding secrets (the uplink's command key and MQTT password, the platform's password, the notification
channels' URLs with their tokens): read only when no one but their owner may read them, as ssh refuses a private
key others can read. One reader for the unit and the host tools (standard library only).
"""

from __future__ import annotations

import os
import stat

FORBIDDEN_MODE = 0o077  # any access by group or others


class PrivateFileError(ValueError):
    """A secrets file that cannot be used: which file, and what to do (chmod 600). os_error: the OSError when the
    file could not be read at all (None when it was read and refused)."""

    def __init__(self, message: str, os_error: OSError | None = None):
        super().__init__(message)
        self.os_error = os_error


def read_private_bytes(path: str, what: str) -> bytes:
    """The file's bytes; PrivateFileError when group or others have any access, or it cannot be read.
    what names the file in messages ("password file", "contacts file")."""
    try:
        with open(path, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & FORBIDDEN_MODE:
                raise PrivateFileError("the %s %s is open to others: chmod 600 %s (mode %04o)"
                                       % (what, path, path, mode))
            return f.read()
    except OSError as err:
        raise PrivateFileError("cannot read the %s %s: %s" % (what, path, err.strerror or err), err) from None


def read_private(path: str, what: str) -> str:
    """read_private_bytes as UTF-8 text; PrivateFileError also when it is not UTF-8."""
    data = read_private_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PrivateFileError("cannot read the %s %s: it is not UTF-8 text (%s)" % (what, path, err)) from None
