"""The kitchen unit as installed: the size of its install, its resident memory and its start-to-READY.

A fresh venv of the Python deploy/install.sh uses (/usr/bin/python3) gets what install.sh installs (the
base install and the pi extra) from --source; the unit then runs from that venv as unit_process.py runs
it (8 cn-generic detectors on 2 pty buses, sim GPIO, store, control socket, 100 ms scans). Figures go to
docs/benchmarks.md.

    .venv/bin/python benchmarks/unit_footprint.py [--starts 5] [--seconds 5] [--json]

Another tree's unit (an older commit), with the extras it needs to start and its own command:
    .venv/bin/python benchmarks/unit_footprint.py --source OLD --extras pi,bench --command "-m gaslatch_tools.cli run"
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

import unit_process  # noqa: E402  (beside this script: the running unit's set-up and measurement)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RSS_GOAL_KIB = 20 * 1024
# What install.sh installs on the unit, and with which Python (deploy/install.sh: PYTHON, step 4).
UNIT_EXTRAS = "pi"
SYSTEM_PYTHON = "/usr/bin/python3"


def install(venv: str, base_python: str, source: str, extras: str) -> dict:
    """`pip install SOURCE[extras]` into a fresh venv; what it added to site-packages and which distributions."""
    subprocess.run([base_python, "-m", "venv", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    empty_kib = _du_kib(site)
    target = "%s[%s]" % (source, extras) if extras else source
    subprocess.run([python, "-m", "pip", "install", "-qq", "--no-cache-dir", target], check=True)
    installed = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--exclude", "pip",
                                "--exclude", "setuptools"], check=True, capture_output=True, text=True).stdout.split()
    version = subprocess.run([python, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    return {"source": source, "extras": extras, "python": version, "site_packages_kib": _du_kib(site) - empty_kib,
            "distributions": sorted(installed)}


def running_unit(python: str, command: tuple[str, ...], starts: int, seconds: float) -> dict:
    """RSS after `seconds` of scanning (the largest of the starts) and start-to-READY (median and range)."""
    runs = [unit_process.measure(100, seconds, False, command, python) for _ in range(starts)]
    ready = [run["ready_s"] for run in runs]
    return {"command": " ".join(command), "starts": starts, "rss_kib": max(run["rss_kib"] for run in runs),
            "ready_median_s": round(statistics.median(ready), 2), "ready_min_s": min(ready), "ready_max_s": max(ready),
            "overruns": sum(run["overruns"] for run in runs)}


def _du_kib(path: str) -> int:
    return int(subprocess.run(["du", "-sk", path], check=True, capture_output=True, text=True).stdout.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="unit starts to take READY and RSS from")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of scanning before RSS is read")
    parser.add_argument("--command", default=" ".join(unit_process.UNIT_COMMAND),
                        help="python arguments that start the unit, before --config (default: %(default)s)")
    parser.add_argument("--source", default=REPO, help="the source tree to install (default: this one)")
    parser.add_argument("--extras", default=UNIT_EXTRAS, help="extras to install with it (default: %(default)s)")
    parser.add_argument("--base-python", default=SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable,
                        help="the Python the venv is made from (default: %(default)s, as install.sh)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gaslatch-footprint-") as tmp:
        venv = os.path.join(tmp, "venv")
        result = {"install": install(venv, args.base_python, args.source, args.extras)}
        result["unit"] = running_unit(os.path.join(venv, "bin", "python"), tuple(shlex.split(args.command)),
                                      args.starts, args.seconds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    installed, unit = result["install"], result["unit"]
    print("pip install %s[%s] into a fresh venv of %s (%s):" % (installed["source"], installed["extras"],
                                                               args.base_python, installed["python"]))
    print("  site-packages grew by   %6d KiB = %.1f MiB" % (installed["site_packages_kib"],
                                                           installed["site_packages_kib"] / 1024))
    print("  distributions           %s" % " ".join(installed["distributions"]))
    print("python %s: 8 detectors on 2 pty buses, 100 ms scans, %d starts" % (unit["command"], unit["starts"]))
    print("  RSS after %g s          %6d KiB = %.1f MiB (goal 20 MiB: %s)" % (
        args.seconds, unit["rss_kib"], unit["rss_kib"] / 1024, "met" if unit["rss_kib"] <= RSS_GOAL_KIB else "NOT met"))
    print("  start to READY          %.2f s median (%.2f-%.2f s)" % (
        unit["ready_median_s"], unit["ready_min_s"], unit["ready_max_s"]))


if __name__ == "__main__":
    main()
