"""The configuration of every mosquitto this project starts: deploy/mosquitto/gaslatch.conf, the file a city installs,
with only the settings a private broker must change rewritten (its ports, its files, who may connect).

So the tests, the bench and the benchmarks run the production limits; naming a setting the file lacks raises, so
the file and its users cannot drift apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
DEPLOY_CONF = DEPLOY_DIR / "gaslatch.conf"
DEPLOY_ACL = DEPLOY_DIR / "gaslatch.acl"

# The settings of DEPLOY_CONF a private broker rewrites, and no others: its two listeners and their TLS files,
# and (the documented relaxation for tests that connect anonymously) who may connect.
REWRITTEN = ("allow_anonymous", "password_file", "acl_file", "listener", "cafile", "certfile", "keyfile",
             "require_certificate", "use_username_as_clientid")
# What the host supplies around DEPLOY_CONF (Debian's /etc/mosquitto/mosquitto.conf, and the default user), which a
# private broker writes in front of it; DEPLOY_CONF must not name them (mosquitto refuses a second
# persistence_location).
HOST_SETTINGS = ("user", "persistence_location", "log_dest")
# Settings of the TLS listener: the lines after its `listener` line, dropped with it.
TLS_LISTENER_SETTINGS = ("cafile", "certfile", "keyfile", "require_certificate", "use_username_as_clientid")
LOOPBACK = "127.0.0.1"


class BrokerConfigError(Exception):
    """The deploy configuration and what a launcher asks of it disagree, or mosquitto's tools are missing."""


def settings(text: str) -> list[tuple[str, str]]:
    """(name, value) of every setting line of a mosquitto configuration, in order; comments and blank lines skipped."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, _, value = stripped.partition(" ")
            out.append((name, value.strip()))
    return out


def rewrite(text: str, changes: dict[str, list[str | None]], source: str = str(DEPLOY_CONF)) -> str:
    """text with each named setting's values replaced, occurrence by occurrence in file order (None drops it).

    Raises BrokerConfigError when a named setting is not in text, or occurs another number of times than
    values are given: the file changed under its users.
    """
    counts: dict[str, int] = {}
    for name, _ in settings(text):
        counts[name] = counts.get(name, 0) + 1
    for name, values in changes.items():
        if counts.get(name, 0) != len(values):
            raise BrokerConfigError("%s has %d `%s` lines where %d were expected: update the launcher's rewrite "
                                    "(gaslatch_tools/broker_config.py) with the file"
                                    % (source, counts.get(name, 0), name, len(values)))
    seen: dict[str, int] = {}
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        name = stripped.partition(" ")[0]
        if not stripped or stripped.startswith("#") or name not in changes:
            lines.append(line)
            continue
        value = changes[name][seen.get(name, 0)]
        seen[name] = seen.get(name, 0) + 1
        lines.append("# (dropped for a private broker) " + stripped if value is None else "%s %s" % (name, value))
    return "\n".join(lines) + "\n"


class TlsFiles:
    """The TLS listener's files for a private broker: the CA, the broker's certificate and key."""

    def __init__(self, ca_file: str, cert_file: str, key_file: str, require_certificate: bool = False):
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.require_certificate = require_certificate


def private_config(directory: str, port: int, tls_port: int | None = None, tls: TlsFiles | None = None,
                   passwords: str | None = None, acl: bool = False, log_dest: str = "stderr",
                   overrides: dict[str, str] | None = None) -> str:
    """DEPLOY_CONF for a broker of this machine, keeping its data in directory: the text of its configuration.

    port: the loopback listener's port; tls_port and tls: the TLS listener on loopback (without them it is dropped).
    passwords: its password file (see write_passwords). acl: apply the deploy ACL, copied as it is into directory.
    Without passwords, anonymous clients may connect, no ACL applies and client ids are the clients' own: the
    documented relaxation for tests that connect anonymously. Every other setting, queue limits and persistence included, is the deploy file's;
    overrides change named settings for a benchmark that compares values (e.g. autosave_interval).
    """
    if (tls_port is None) != (tls is None):
        raise BrokerConfigError("a TLS listener needs both its port and its files")
    if acl and passwords is None:
        raise BrokerConfigError("the ACL grants by user name: give passwords with acl")
    changes: dict[str, list[str | None]] = {
        "listener": ["%d %s" % (port, LOOPBACK), None if tls_port is None else "%d %s" % (tls_port, LOOPBACK)],
        "allow_anonymous": ["false" if passwords else "true"],
        "password_file": [passwords],
        "acl_file": [None],
    }
    if acl:
        acl_copy = os.path.join(directory, DEPLOY_ACL.name)
        shutil.copyfile(DEPLOY_ACL, acl_copy)
        changes["acl_file"] = [acl_copy]
    if tls is None:
        changes.update({name: [None] for name in TLS_LISTENER_SETTINGS})
    else:
        changes.update(cafile=[tls.ca_file], certfile=[tls.cert_file], keyfile=[tls.key_file],
                       require_certificate=["true" if tls.require_certificate else "false"])
        if not passwords:  # an anonymous client has no user name to be its client id: mosquitto would refuse it
            changes["use_username_as_clientid"] = [None]
    for name, value in (overrides or {}).items():
        changes[name] = [value]
    # Started as root, mosquitto would become user "mosquitto", who can reach none of the private directory's files.
    host = ["user root"] if os.geteuid() == 0 else []
    host += ["persistence_location %s/" % directory, "log_dest %s" % log_dest]
    with open(DEPLOY_CONF, encoding="utf-8") as f:
        deploy = f.read()
    named = sorted({name for name, _ in settings(deploy)} & set(HOST_SETTINGS))
    if named:
        raise BrokerConfigError("%s sets %s, which the host's mosquitto.conf supplies"
                                % (DEPLOY_CONF, ", ".join(named)))
    return "# What the host supplies (Debian's mosquitto.conf, the user)\n%s\n\n%s" % (
        "\n".join(host), rewrite(deploy, changes))


def mosquitto_passwd() -> str:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not os.path.exists(tool):
        raise BrokerConfigError("mosquitto_passwd is not installed: apt-get install mosquitto")
    return tool


def write_passwords(path: str, users: dict[str, str]) -> str:
    """mosquitto's password file at path with {user: password}, hashed by mosquitto_passwd as on a real broker."""
    open(path, "w").close()
    os.chmod(path, 0o600)
    for user, password in sorted(users.items()):
        add_password(path, user, password)
    return path


def add_password(path: str, user: str, password: str) -> None:
    """Adds (or changes) one user's password in the file, as docs/broker.md does it on a real broker."""
    done = subprocess.run([mosquitto_passwd(), "-b", path, user, password], capture_output=True, text=True)
    if done.returncode != 0:
        raise BrokerConfigError("mosquitto_passwd refused user %r: %s" % (user, (done.stderr or done.stdout).strip()))
