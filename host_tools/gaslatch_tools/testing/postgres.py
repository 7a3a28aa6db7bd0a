"""A throwaway PostgreSQL server on loopback, for the platform tests and the fleet load benchmark.

initdb into a temporary directory, then postgres on 127.0.0.1:<free port> (and a unix socket in that
directory), as the `postgres` system user when started by root; stopped and deleted afterwards.
(pytest-postgresql does not fit: it runs initdb and pg_ctl as the calling user, and postgres refuses root, which
CI and the bench machines are; and the fleet benchmark needs the server outside pytest.)
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg

from gaslatch_tools.testing.ports import LOOPBACK, free_port

SUPERUSER = "gaslatch"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 2000
RUN_AS_WHEN_ROOT = "postgres"  # created by the Debian/Ubuntu postgresql package; postgres refuses to run as root
# Durability off: for tests only (a crash loses the whole throwaway cluster anyway).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresServerError(RuntimeError):
    """The throwaway server could not be started: what is missing or what postgres logged."""


def bin_dir() -> str:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres (Debian/Ubuntu layout)."""
    candidates = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
                  if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "postgres"), os.X_OK)]
    if not candidates:
        raise PostgresServerError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                                  "install them with scripts/test.sh (apt-get install postgresql)")
    return max(candidates, key=lambda d: _version_key(os.path.basename(os.path.dirname(d))))


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, reachable only on 127.0.0.1 with a password.

    `durable=False` turns fsync off (tests); the benchmark keeps the defaults (fsync on).
    """

    def __init__(self, durable: bool = False):
        self.bin_dir = bin_dir()
        self.host = LOOPBACK
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.durable = durable
        self.directory = tempfile.mkdtemp(prefix="gaslatch-pg-")  # under /tmp: reachable by the postgres user
        self.data_dir = os.path.join(self.directory, "data")
        self.log_path = os.path.join(self.directory, "postgres.log")
        self.proc: subprocess.Popen | None = None
        self._user = self._run_as()

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(RUN_AS_WHEN_ROOT)
        except KeyError:
            raise PostgresServerError("running as root, but there is no %r user to run PostgreSQL as: install the "
                                      "postgresql package (apt-get install postgresql)" % RUN_AS_WHEN_ROOT) from None

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        return subprocess.Popen(argv, cwd=self.directory, env=dict(os.environ, LC_ALL="C.UTF-8"), **kwargs)

    def start(self) -> "PostgresServer":
        try:
            self._init_cluster()
            self._start_postgres()
        except BaseException:
            self.stop()
            raise
        return self

    def _init_cluster(self) -> None:
        pwfile = os.path.join(self.directory, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self._user is not None:
            for path in (self.directory, pwfile):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        initdb = self._spawn([os.path.join(self.bin_dir, "initdb"), "-D", self.data_dir, "-U", SUPERUSER,
                              "--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8",
                              "--no-sync", "--no-instructions"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = initdb.communicate(timeout=START_TIMEOUT_S)
        os.unlink(pwfile)
        if initdb.returncode != 0:
            raise PostgresServerError("initdb failed (%s): %s" % (initdb.returncode,
                                                                 output.decode(errors="replace")[-LOG_TAIL_CHARS:]))

    def _start_postgres(self) -> None:
        settings = {"listen_addresses": self.host, "port": str(self.port), "unix_socket_directories": self.directory,
                    "max_connections": "50"}
        if not self.durable:
            settings.update(FAST_SETTINGS)
        argv = [os.path.join(self.bin_dir, "postgres"), "-D", self.data_dir]
        for name, value in sorted(settings.items()):
            argv += ["-c", "%s=%s" % (name, value)]
        with open(self.log_path, "wb") as log:
            if self._user is not None:
                os.chown(self.log_path, self._user.pw_uid, self._user.pw_gid)
            self.proc = self._spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise PostgresServerError("postgres exited with %s: %s" % (self.proc.returncode, self.log_tail()))
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError as err:
                if time.monotonic() > deadline:
                    raise PostgresServerError("postgres did not accept connections on %s:%d within %.0f s (%s): %s"
                                              % (self.host, self.port, START_TIMEOUT_S, err, self.log_tail()))
            time.sleep(0.05)

    def log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    def url(self, dbname: str = "postgres") -> str:
        """postgresql:// URL of one database, as the superuser over TCP on loopback."""
        return "postgresql://%s:%s@%s:%d/%s" % (SUPERUSER, self.password, self.host, self.port, dbname)

    def create_database(self, name: str) -> str:
        """Creates an empty database (name: letters, digits and _) and returns its URL."""
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ValueError("database name %r: use letters, digits and _" % name)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE %s" % name)
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then the directory is deleted."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
