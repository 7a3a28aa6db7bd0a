"""Files holding secrets (the MQTT password, the notification channels' URLs with their tokens): read only when
no one but their owner may read them, as ssh refuses a private key others can read.
"""

from __future__ import annotations

import os


class PrivateFileError(ValueError):
    """A secrets file that cannot be used: which file, and what to do (chmod 600)."""


def read_private(path: str, what: str) -> str:
    """The text of the file at path; PrivateFileError when group or others have any access, or it is not UTF-8.
    what names the file in messages ("password file", "contacts file")."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_mode & 0o077:
                raise PrivateFileError("the %s %s is open to others: chmod 600 %s" % (what, path, path))
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PrivateFileError("cannot read the %s %s: %s" % (what, path, err)) from None
