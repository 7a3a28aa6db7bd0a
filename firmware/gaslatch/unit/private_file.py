"""Files holding secrets (the uplink's command key and MQTT password, the platform's password, the notification
channels' URLs with their tokens): read only when no one but their owner may read them, as ssh refuses a private
key others can read. One reader for the unit and the host tools (standard library only).
"""

from __future__ import annotations

import os
import stat

from gaslatch.told import Told
from gaslatch.translation import N_

FORBIDDEN_MODE = 0o077  # any access by group or others
MAX_BYTES = 16 * 1024 * 1024  # a key, a password, a PIN file, a fleet's contacts: far less


class PrivateFileError(Told, ValueError):
    """A secrets file that cannot be used: which file, and what to do (chmod 600); str() is the English, told() the
    reader's language. os_error: the OSError when the file could not be read at all (None when it was read and
    refused)."""

    def __init__(self, message: str, os_error: OSError | None = None, **values: object):
        super().__init__(message, **values)
        self.os_error = os_error


def read_private_bytes(path: str, what: str) -> bytes:
    """The file's bytes; PrivateFileError when group or others have any access, or it cannot be read.
    what names the file in messages, marked for translation where it is written (N_("contacts file"))."""
    try:
        # O_NONBLOCK: a FIFO put at the path must not hold its reader (the panel's login, the unit's start) for ever.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC), "rb") as f:
            status = os.fstat(f.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise PrivateFileError(N_("the %(what)s %(path)s is not a regular file"), what=Told(what), path=path)
            mode = stat.S_IMODE(status.st_mode)
            if mode & FORBIDDEN_MODE:
                raise PrivateFileError(N_("the %(what)s %(path)s is open to others: chmod 600 %(path)s "
                                          "(mode %(mode)s)"), what=Told(what), path=path, mode="%04o" % mode)
            data = f.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                raise PrivateFileError(N_("the %(what)s %(path)s is larger than %(mib)d MiB"), what=Told(what),
                                       path=path, mib=MAX_BYTES // (1024 * 1024))
            return data
    except OSError as err:
        raise PrivateFileError(N_("cannot read the %(what)s %(path)s: %(error)s"), err, what=Told(what), path=path,
                               error=err.strerror or err) from None


def read_private(path: str, what: str) -> str:
    """read_private_bytes as UTF-8 text; PrivateFileError also when it is not UTF-8."""
    data = read_private_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PrivateFileError(N_("cannot read the %(what)s %(path)s: it is not UTF-8 text (%(error)s)"),
                               what=Told(what), path=path, error=err) from None
