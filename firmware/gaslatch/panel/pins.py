"""The kitchen panel's PINs: one per access level, stored hashed, and the lockout after repeated failures.

EN 50271 asks for access levels; Honeywell Touchpoint Plus locks its panel for 10 minutes after 10 failed logins,
and so does this. PINs are hashed with PBKDF2-SHA256 (standard library: the panel stays within its memory budget
on a Pi, which argon2's 64 MiB would not). The lockout is kept in a file, so restarting the panel does not reset
the count.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from typing import Callable

from gaslatch.core.commands import INSTALLER, LEVELS, MAINTENANCE, OPERATOR
from gaslatch.told import Told
from gaslatch.translation import N_, _
from gaslatch.unit.atomic_file import write_atomically
from gaslatch.unit.private_file import PrivateFileError, read_private

PIN_LEVELS = (OPERATOR, MAINTENANCE, INSTALLER)  # each needs its own PIN; VIEW needs none
MIN_PIN_DIGITS, MAX_PIN_DIGITS = 4, 12
ITERATIONS = 100_000  # ~0.1 s on a Pi 4 per check: 10 tries a minute cost the panel little
MAX_ITERATIONS = 10 * ITERATIONS  # a stored hash asking for more is no hash of ours: a login must not take minutes
MAX_FAILURES = 10
LOCKOUT_S = 10 * 60
SCHEME = "pbkdf2_sha256"


class PinError(ValueError):
    """A PIN or PIN file that cannot be used, and why."""


class UnreadablePinFile(Told, PinError):
    """The PIN file cannot be read, is open to others (private_file's refusal) or is not a PIN file: told in each
    reader's language (the login page shows Chinese beside English whatever the panel process's language)."""


def pin_problem(pin: object) -> str | None:
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
        return _("a PIN is digits only")
    if not MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS:
        return _("a PIN has %(min)d to %(max)d digits") % {"min": MIN_PIN_DIGITS, "max": MAX_PIN_DIGITS}
    return None


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return "%s$%d$%s$%s" % (SCHEME, iterations, salt.hex(), digest.hex())


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
        if scheme != SCHEME or not 1 <= rounds <= MAX_ITERATIONS:
            return False
        mine = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), bytes.fromhex(salt), rounds)
    except (ValueError, UnicodeEncodeError):
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a hand-edited file), which would end the login
    # in an internal error.
    return hmac.compare_digest(mine.hex().encode(), digest.encode("utf-8", "surrogatepass"))


class PinFile:
    """The PIN hashes per level, in a JSON file only the panel's user may read (mode 0600)."""

    def __init__(self, path: str):
        self.path = path

    def hashes(self) -> dict[str, str]:
        """Level -> hash; {} when the file does not exist yet (every level then refused)."""
        if not os.path.exists(self.path):
            return {}
        try:
            doc = json.loads(read_private(self.path, N_("panel PIN file")))
        except PrivateFileError as err:
            raise UnreadablePinFile(err.message, **err.values) from None
        except ValueError as err:
            raise UnreadablePinFile(N_("%(path)s: not a PIN file: %(error)s"), path=self.path, error=err) from None
        except RecursionError:  # nested deeper than the decoder goes
            raise UnreadablePinFile(N_("%(path)s: not a PIN file: nested too deeply"), path=self.path) from None
        levels = doc.get("levels") if isinstance(doc, dict) else None
        if not isinstance(levels, dict):
            raise UnreadablePinFile(N_("%(path)s: not a PIN file (no levels)"), path=self.path)
        return {k: v for k, v in levels.items() if k in PIN_LEVELS and isinstance(v, str) and v}

    def set(self, level: str, pin: str) -> None:
        if level not in PIN_LEVELS:
            raise PinError(_("no PIN level %(level)r (levels: %(levels)s)") % {"level": level,
                                                                               "levels": ", ".join(PIN_LEVELS)})
        problem = pin_problem(pin)
        if problem:
            raise PinError(problem)
        levels = self.hashes()
        if any(pin_matches(pin, h) for other, h in levels.items() if other != level):
            raise PinError(_("each level needs its own PIN: this one is already another level's"))
        levels[level] = hash_pin(pin)
        write_atomically(self.path, (json.dumps({"version": 1, "levels": levels}, indent=1) + "\n").encode(),
                         mode=0o600)


class Lockout:
    """Failed PINs counted in a state file; MAX_FAILURES in a row lock every level for LOCKOUT_S."""

    def __init__(self, path: str, clock_s: Callable[[], float]):
        self.path = path
        self._clock_s = clock_s

    def _read(self) -> dict:
        try:
            doc = json.loads(read_private(self.path, N_("panel lockout file")))
            return doc if isinstance(doc, dict) else {}
        except (ValueError, RecursionError):  # missing, unreadable or damaged: no count to go on, counting starts again
            return {}

    def locked_until(self) -> float | None:
        """When the lock ends (None: not locked). A time beyond one lockout from now was never set by this panel
        (a damaged file, Infinity): not a lock, so the count starts again rather than the panel locking for ever."""
        until = self._read().get("locked_until_s", 0)
        now = self._clock_s()
        return until if type(until) in (int, float) and now < until <= now + LOCKOUT_S else None

    def failed(self) -> bool:
        """Counts one failure; True when it locks."""
        doc = self._read()
        count = doc.get("failures", 0)
        failures = (min(max(count, 0), MAX_FAILURES) if type(count) is int else 0) + 1
        locked = failures >= MAX_FAILURES
        doc = {"failures": 0 if locked else failures,
               "locked_until_s": self._clock_s() + LOCKOUT_S if locked else 0}
        write_atomically(self.path, json.dumps(doc).encode(), mode=0o600)
        return locked

    def succeeded(self) -> None:
        write_atomically(self.path, json.dumps({"failures": 0, "locked_until_s": 0}).encode(), mode=0o600)


def level_of(pin: str, hashes: dict[str, str]) -> str | None:
    """The level whose PIN this is (None: none). Every level is checked, so the time does not tell which."""
    found = None
    if pin_problem(pin):
        pin = "0" * MIN_PIN_DIGITS  # still spend the time
    for level in PIN_LEVELS:
        stored = hashes.get(level) or hash_pin("0" * MIN_PIN_DIGITS, b"\0" * 16)
        if pin_matches(pin, stored) and hashes.get(level) and found is None:  # the stand-in hash is no PIN's
            found = level
    return found


def allows(level: str, needed: str) -> bool:
    """Whether a session at `level` may do what needs `needed` (levels are ordered: VIEW < ... < INSTALLER)."""
    return LEVELS.index(level) >= LEVELS.index(needed)

