"""Console accounts: passwords (argon2id), lockout after repeated failures, and sessions with an idle timeout.

Kept in the platform's database so that several console instances share them. A person's role and sites are not
stored here: they come from the contacts file (access.py); an account is only a way to prove who one is.
Lockout follows Honeywell Touchpoint Plus: 10 failed logins lock the name for 10 minutes, counted per name whether
or not an account has it (so failures do not tell which names exist).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Callable, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gaslatch.core import events as E
from gaslatch.translation import N_
from gaslatch_tools.platform import audit, words
from gaslatch.told import Told

Execute = Callable[..., Any]

MAX_FAILURES = 10
LOCKOUT_MS = 10 * 60 * 1000
IDLE_TIMEOUT_MS = 15 * 60 * 1000  # Dräger REGARD's logout after 15 idle minutes
SESSION_MAX_MS = 12 * 3600 * 1000  # a shift: a session never outlives it, however active
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # argon2 takes any length; a megabyte "password" is a denial of service, not a secret
MAX_USER_CHARS = 64

ACCOUNT_SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS accounts (
        username TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, changed_ms BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS login_failures (
        username TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until_ms BIGINT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS platform_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL, created_ms BIGINT NOT NULL,
        last_ms BIGINT NOT NULL)""",
)
ACCOUNT_SCHEMA_OBJECTS = ("accounts", "login_failures", "platform_keys", "sessions")

_COUNT_FAILURE_SQL = """INSERT INTO login_failures (username, failures, locked_until_ms) VALUES (?, 1, 0)
    ON CONFLICT (username) DO UPDATE SET failures = login_failures.failures + 1"""
_HASHER = PasswordHasher()  # argon2id with the library's current recommended cost
_DUMMY_HASH = _HASHER.hash("not a password: spent on unknown names so their refusal takes as long")


class AccountError(Told, ValueError):
    """A password or name that cannot be used, and why."""


class LoginRefused(Exception):
    """A login refused: message (the catalogue's English, filled with values) is what the person is told, the same
    for a wrong name and a wrong password; str() is "中文 English"."""

    def __init__(self, message: str, **values: Any):
        super().__init__(words.pair(message, **values))
        self.message = message
        self.values = values


class Session(NamedTuple):
    token: str  # the cookie's value (only its hash is stored)
    username: str
    csrf: str
    created_ms: int
    last_ms: int


def prepare(storage) -> None:
    storage.create_tables(ACCOUNT_SCHEMA_SQL, ACCOUNT_SCHEMA_OBJECTS)
    audit.prepare(storage)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _name(username: str) -> str:
    """A name as the tables keep it: safe text, clipped (hostile names are counted, never stored raw)."""
    return E.safe_text(username if isinstance(username, str) else repr(username), MAX_USER_CHARS)


def platform_key(storage, name: str) -> bytes:
    """A random key the platform's instances share (made by the first to ask): e.g. the one that signs the sites'
    public page addresses. In the database, not a file: every console instance reads the same one."""
    fresh = secrets.token_hex(32)

    def work(x: Execute) -> str:
        x("INSERT INTO platform_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, fresh))
        return x("SELECT value FROM platform_keys WHERE name = ?", (name,)).fetchone()[0]

    return bytes.fromhex(storage.write(work))


def password_problem(password: str) -> AccountError | None:
    if not isinstance(password, str):
        return AccountError(N_("a password is text"))
    if len(password) < MIN_PASSWORD_CHARS:
        return AccountError(N_("a password needs at least %(count)d characters"), count=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        return AccountError(N_("a password has at most %(count)d characters"), count=MAX_PASSWORD_CHARS)
    if E.safe_text(password, MAX_PASSWORD_CHARS) != password:
        return AccountError(N_("a password cannot hold control characters or broken Unicode"))
    return None


def set_password(storage, username: str, password: str, now_ms: int, by: str, origin: str = "cli") -> None:
    """Creates or replaces an account's password (and ends its sessions: a changed password logs everyone out)."""
    problem = password_problem(password)
    if problem:
        raise problem
    if _name(username) != username or not username:
        raise AccountError(N_("an account name is the person's id in the contacts file: plain text, at most "
                              "%(count)d characters"), count=MAX_USER_CHARS)
    pw_hash = _HASHER.hash(password)

    def work(x: Execute) -> None:
        if x("SELECT 1 FROM accounts WHERE username = ?", (username,)).fetchone():
            x("UPDATE accounts SET pw_hash = ?, changed_ms = ? WHERE username = ?", (pw_hash, now_ms, username))
        else:
            x("INSERT INTO accounts (username, pw_hash, changed_ms) VALUES (?, ?, ?)", (username, pw_hash, now_ms))
        x("DELETE FROM sessions WHERE username = ?", (username,))
        x("DELETE FROM login_failures WHERE username = ?", (username,))
        audit.record(x, now_ms, by, "set_password", "account:" + username, origin=origin)

    storage.write(work)


def unlock(storage, username: str, now_ms: int, by: str, origin: str = "cli") -> bool:
    """Ends a lockout early (an administrator's action); True when the name was locked."""
    name = _name(username)

    def work(x: Execute) -> bool:
        row = x("SELECT locked_until_ms FROM login_failures WHERE username = ?", (name,)).fetchone()
        x("DELETE FROM login_failures WHERE username = ?", (name,))
        audit.record(x, now_ms, by, "unlock", "account:" + name, origin=origin)
        return bool(row and row[0] > now_ms)

    return storage.write(work)


def locked_until(storage, username: str, now_ms: int) -> int | None:
    row = storage.read(lambda x: x("SELECT locked_until_ms FROM login_failures WHERE username = ?",
                                   (_name(username),)).fetchone())
    return row[0] if row and row[0] > now_ms else None


def login(storage, username: str, password: str, now_ms: int, origin: str) -> Session:
    """A new session for a right name and password; LoginRefused otherwise (and while the name is locked out).
    Every attempt is audited. The hash is checked outside any transaction (argon2 takes tens of milliseconds)."""
    name = _name(username)
    row = storage.read(lambda x: x("SELECT pw_hash FROM accounts WHERE username = ?", (name,)).fetchone())
    good = False
    if isinstance(password, str) and len(password) <= MAX_PASSWORD_CHARS:
        try:
            good = _HASHER.verify(row[0] if row else _DUMMY_HASH, password) and row is not None \
                and name == username
        except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeError):
            good = False
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def work(x: Execute) -> Session | str:
        lock = x("SELECT failures, locked_until_ms FROM login_failures WHERE username = ?", (name,)).fetchone()
        if lock and lock[1] > now_ms:
            audit.record(x, now_ms, name, "login_locked", "account:" + name, origin=origin)
            return "locked"
        if not good:
            # Counted in SQL under the row's lock: two consoles refusing at once count two failures.
            x(_COUNT_FAILURE_SQL, (name,))
            failures = x("SELECT failures FROM login_failures WHERE username = ?", (name,)).fetchone()[0]
            until = now_ms + LOCKOUT_MS if failures >= MAX_FAILURES else 0
            if until:
                x("UPDATE login_failures SET failures = 0, locked_until_ms = ? WHERE username = ?", (until, name))
            audit.record(x, now_ms, name, "login_failed", "account:" + name,
                         detail={"failures": failures, "locked": bool(until)}, origin=origin)
            return "locked_now" if until else "wrong"
        x("DELETE FROM login_failures WHERE username = ?", (name,))
        x("DELETE FROM sessions WHERE last_ms < ? OR created_ms < ?",
          (now_ms - IDLE_TIMEOUT_MS, now_ms - SESSION_MAX_MS))
        x("INSERT INTO sessions (token_hash, username, csrf, created_ms, last_ms) VALUES (?, ?, ?, ?, ?)",
          (_token_hash(token), name, csrf, now_ms, now_ms))
        audit.record(x, now_ms, name, "login", "account:" + name, origin=origin)
        return Session(token, name, csrf, now_ms, now_ms)

    outcome = storage.write(work)
    if isinstance(outcome, Session):
        return outcome
    if outcome == "wrong":
        raise LoginRefused(N_("Wrong user name or password"))
    raise LoginRefused(N_("Too many failed logins: locked for %(minutes)d minutes"), minutes=LOCKOUT_MS // 60000)


def session(storage, token: str | None, now_ms: int, touch: bool = True) -> Session | None:
    """The live session of a cookie; None when there is none or it has timed out. touch: a person's own request,
    which restarts the idle timer (a page refreshing itself does not: an unattended screen still logs out)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    key = _token_hash(token)

    def work(x: Execute) -> Session | None:
        row = x("SELECT username, csrf, created_ms, last_ms FROM sessions WHERE token_hash = ?", (key,)).fetchone()
        if row is None:
            return None
        if row[3] < now_ms - IDLE_TIMEOUT_MS or row[2] < now_ms - SESSION_MAX_MS:
            x("DELETE FROM sessions WHERE token_hash = ?", (key,))
            return None
        last = max(now_ms, row[3]) if touch else row[3]
        if touch:
            x("UPDATE sessions SET last_ms = ? WHERE token_hash = ?", (last, key))
        return Session(token, row[0], row[1], row[2], last)

    return storage.write(work)


def logout(storage, token: str, now_ms: int, origin: str) -> None:
    key = _token_hash(token)

    def work(x: Execute) -> None:
        row = x("SELECT username FROM sessions WHERE token_hash = ?", (key,)).fetchone()
        x("DELETE FROM sessions WHERE token_hash = ?", (key,))
        if row:
            audit.record(x, now_ms, row[0], "logout", "account:" + row[0], origin=origin)

    storage.write(work)


def new_form_token() -> str:
    """A random token for a form shown before any session (the login form's double-submit cookie)."""
    return secrets.token_urlsafe(32)


def csrf_ok(sess: Session, submitted: object) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(sess.csrf.encode(), submitted.encode("utf-8",
                                                                                                   "surrogatepass"))


def accounts(storage) -> list[tuple[str, int]]:
    """(name, when its password was set) of every account."""
    return storage.read(lambda x: x("SELECT username, changed_ms FROM accounts ORDER BY username").fetchall())
