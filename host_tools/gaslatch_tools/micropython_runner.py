"""Runs a script under the real MicroPython 1.27 (npm WebAssembly build) with the gaslatch package importable.

Tests use it to prove the firmware core runs unchanged on MicroPython and behaves as on CPython.
"""

import json
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / "firmware" / "gaslatch"
HOST_SCRIPT = Path(__file__).with_name("micropython_host.mjs")
NPM_PACKAGE_DIR = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
DEFAULT_HEAPSIZE = 1024 * 1024
DEFAULT_TIMEOUT_S = 120.0


class MicroPythonError(RuntimeError):
    """MicroPython could not run, or the script failed: stderr holds the traceback, stdout the output."""

    def __init__(self, message: str, stderr: str = "", stdout: str = ""):
        super().__init__(message if not stderr else "%s\n%s" % (message, stderr))
        self.stderr = stderr
        self.stdout = stdout


def package_files() -> dict[str, str]:
    """Every .py of firmware/gaslatch/ and its profiles/*.json, keyed by their MicroPython FS path."""
    paths = sorted(PACKAGE_DIR.rglob("*.py")) + sorted((PACKAGE_DIR / "profiles").glob("*.json"))
    return {
        "/lib/gaslatch/" + path.relative_to(PACKAGE_DIR).as_posix(): path.read_text(encoding="utf-8")
        for path in paths
        if "__pycache__" not in path.parts
    }


def _node() -> str:
    node = shutil.which("node")
    if node is None or not NPM_PACKAGE_DIR.is_dir():
        missing = "node is not on PATH" if node is None else "%s is missing" % NPM_PACKAGE_DIR
        hint = "install Node.js 20 and run `npm ci` in %s" % REPO_ROOT
        raise MicroPythonError("MicroPython is not installed (%s): %s" % (missing, hint))
    return node


def run_micropython(
    script: str,
    extra_files: dict[str, str] | None = None,
    heapsize: int = DEFAULT_HEAPSIZE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> str:
    """Runs script under MicroPython with /lib/gaslatch/ in place and returns its stdout exactly.

    extra_files: {"/path/in/mp/fs": text} written after the package. Raises MicroPythonError with the
    traceback when the script raises, and when node or the npm package is missing.
    """
    files = package_files()
    files.update(extra_files or {})
    job = json.dumps({"files": files, "script": script, "heapsize": heapsize}).encode("utf-8")
    try:
        done = subprocess.run(
            [_node(), str(HOST_SCRIPT)], input=job, capture_output=True, timeout=timeout_s, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired as exc:
        raise MicroPythonError("MicroPython script ran longer than %s s" % timeout_s) from exc
    stdout = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", errors="replace")
        raise MicroPythonError("MicroPython script failed (exit %d)" % done.returncode, stderr, stdout)
    return stdout
