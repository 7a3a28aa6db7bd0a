"""The install manifest and the start-up self-test (EN 50271: monitored execution, protected program and site data).

deploy/install.sh writes the SHA-256 of every installed code and profile file of the gaslatch package
(`gaslatch-unit manifest write`); every start checks the running package against it (self_test()), and a file that
differs, is missing or was added keeps the gas off with the file named (docs/safety.md, "Start-up self-test").
"""

from __future__ import annotations

import json
import os
import time
from typing import NamedTuple

import gaslatch
from gaslatch.core.sha256 import sha256
from gaslatch.unit.atomic_file import write_atomically

FORMAT = 1
MANIFEST_MODE = 0o644  # root-owned (install.sh runs as root), readable by the service user
SHOWN_FILES = 5  # files named per fault; the rest are counted
PROFILES_DIR = "profiles"


class ManifestError(Exception):
    """The manifest cannot be written: the path and the OS error."""


class SelfTest(NamedTuple):
    """What the start-up self-test found: faults (each keeps the gas off for this run) and a one-line summary."""

    faults: tuple[str, ...]
    summary: str
    elapsed_ms: float


def package_dir() -> str:
    """The directory of the gaslatch package this process runs."""
    return os.path.dirname(os.path.abspath(gaslatch.__file__))


def installed_files(root: str) -> list[str]:
    """The files the manifest covers, relative to the package's parent and with '/' (gaslatch/core/safety.py):
    every .py file of the package (compiled caches left out: Python rebuilds them from the sources) and every
    profiles/*.json, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        relative = os.path.relpath(folder, root)
        for name in files:
            in_profiles = relative == PROFILES_DIR and name.endswith(".json")
            if name.endswith(".py") or in_profiles:
                path = name if relative == "." else os.path.join(relative, name)
                found.append("gaslatch/" + path.replace(os.sep, "/"))
    return sorted(found)


def file_hashes(root: str) -> dict[str, str]:
    """File (as installed_files names it) -> SHA-256 in hex."""
    parent = os.path.dirname(root)
    hashes = {}
    for name in installed_files(root):
        with open(os.path.join(parent, *name.split("/")), "rb") as handle:
            hashes[name] = sha256(handle.read()).hexdigest()
    return hashes


def manifest_text(root: str) -> str:
    """The manifest as written: JSON with the format, the package version and root, and the files' hashes."""
    doc = {"format": FORMAT, "version": gaslatch.__version__, "root": root, "files": file_hashes(root)}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def write_manifest(path: str, root: str | None = None) -> int:
    """Writes the manifest of the package at root (default: this one) to path; returns how many files it covers."""
    root = root or package_dir()
    text = manifest_text(root)
    try:
        write_atomically(path, text.encode("utf-8"), MANIFEST_MODE)
    except OSError as err:
        raise ManifestError("cannot write %s: %s" % (path, err.strerror or err)) from None
    return len(json.loads(text)["files"])


def check_manifest(path: str, root: str | None = None) -> tuple[list[str], int]:
    """(faults, files checked) of the package at root (default: this one) against the manifest at path.

    A fault names the files (at most SHOWN_FILES, then a count): modified, missing, not in the manifest; or the
    manifest itself when it cannot be read or is not one.
    """
    root = root or package_dir()
    try:
        with open(path, "rb") as handle:
            doc = json.loads(handle.read().decode("utf-8"))
    except OSError as err:
        return ["manifest %s cannot be read: %s" % (path, err.strerror or err)], 0
    except ValueError as err:
        return ["manifest %s is not a manifest: %s" % (path, err)], 0
    files = doc.get("files") if isinstance(doc, dict) and doc.get("format") == FORMAT else None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        return ["manifest %s is not a manifest of format %d" % (path, FORMAT)], 0
    try:
        actual = file_hashes(root)
    except OSError as err:
        return ["installed file %s cannot be read: %s" % (err.filename, err.strerror)], 0
    modified = sorted(name for name in files if name in actual and actual[name] != files[name])
    missing = sorted(name for name in files if name not in actual)
    extra = sorted(name for name in actual if name not in files)
    faults = []
    for what, names in (("modified since install", modified), ("missing", missing),
                        ("added since install", extra)):
        if names:
            faults.append("%s %s: %s" % ("file" if len(names) == 1 else "%d files" % len(names), what,
                                         _named(names)))
    return faults, len(actual)


def self_test(cfg: dict, root: str | None = None) -> SelfTest:
    """The start-up self-test of the installed files against self_test.manifest (docs/safety.md).

    Without a manifest configured (test benches) nothing is checked, and the summary says so.
    """
    started = time.perf_counter()
    path = cfg["self_test"]["manifest"]
    if not path:
        return SelfTest((), "no manifest configured: code and profiles not checked", 0.0)
    faults, checked = check_manifest(path, root)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if faults:
        return SelfTest(tuple(faults), "failed", elapsed_ms)
    return SelfTest((), "passed: %d code and profile files match %s" % (checked, path), elapsed_ms)


def _named(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_FILES])
    return shown if len(names) <= SHOWN_FILES else "%s (+%d more)" % (shown, len(names) - SHOWN_FILES)
