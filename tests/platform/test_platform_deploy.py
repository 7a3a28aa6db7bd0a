"""The platform's systemd units (deploy/platform/systemd/): each verifies with systemd-analyze, stays hardened, runs
as the platform's own user, and starts a command line the CLI accepts (a renamed option fails here, not at 2 a.m.).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from gaslatch_tools.platform.cli import platform
from tests.test_deploy import parse_unit, tool

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "platform" / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
ENV_EXAMPLE = SYSTEMD / "platform.env.example"
EXECUTABLE = "/opt/gaslatch-platform/venv/bin/gaslatch"
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 best, 10 worst


def joined(text: str) -> str:
    """Unit text with backslash-continued lines joined, as systemd reads it."""
    return re.sub(r"\\\n\s*", " ", text)


def service(path: Path) -> dict[str, list[str]]:
    return parse_unit(joined(path.read_text(encoding="utf-8")))["Service"]


def example_env() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def test_there_is_a_unit_for_the_receiver_the_notifier_and_the_console():
    assert [u.name for u in UNITS] == ["gaslatch-platform-console.service", "gaslatch-platform-notify.service",
                                       "gaslatch-platform-receiver.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_starts_a_command_line_the_cli_accepts(unit):
    (exec_start,) = service(unit)["ExecStart"]
    env = example_env()
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], exec_start)
    args = shlex.split(line)
    assert args[:2] == [EXECUTABLE, "platform"]
    rest = args[2:]
    command = platform.commands.get(rest[0], platform) if rest else platform
    if command is not platform:
        rest = rest[1:]
    names = {o for p in command.params for o in getattr(p, "opts", [])}
    unknown = [a for a in rest if a.startswith("--") and a not in names]
    assert not unknown, "%s: %s not options of %s" % (unit.name, unknown, command.name)
    flags = {o for p in command.params if getattr(p, "is_flag", False) for o in p.opts}
    values = [a for i, a in enumerate(rest) if i and rest[i - 1].startswith("--") and rest[i - 1] not in flags]
    assert all(not v.startswith("--") for v in values), "every option that takes a value has one"


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_as_the_platform_user_with_no_capabilities(unit):
    keys = service(unit)
    assert keys["User"] == ["gaslatch-platform"] and keys["Group"] == ["gaslatch-platform"]
    assert keys["CapabilityBoundingSet"] == [""] and keys["NoNewPrivileges"] == ["yes"]
    assert keys["UMask"] == ["0077"], "what the platform writes is its own"
    assert "EnvironmentFile" in keys


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_passes_systemd_analyze_verify(unit, tmp_path):
    analyze = tool("systemd-analyze", "apt-get install systemd")
    stand_in = tmp_path / "gaslatch"
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    stand_in.chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text(encoding="utf-8").replace(EXECUTABLE, str(stand_in)), encoding="utf-8")
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and "EnvironmentFile" not in line]
    assert problems == [], problems


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_s_exposure_stays_low(unit):
    analyze = tool("systemd-analyze", "apt-get install systemd")
    done = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(unit)], capture_output=True,
                          text=True, timeout=60)
    found = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(unit.name), done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout
