"""The start-up self-test (unit/manifest.py): the installed code and profiles against the manifest install.sh wrote.

A real `gaslatch run` from a copy of the installed package with a manifest written: a modified profile or code file
keeps the gas off and the fault relay dropped, says which file in status and the journal, and refuses the reset;
restoring the file and restarting clears it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gaslatch
from gaslatch.unit.manifest import check_manifest, installed_files, self_test, write_manifest
from gaslatch_tools.testing.detector_bus import DetectorBus
from gaslatch_tools.testing.running_unit import RunningUnit
from gaslatch_tools.testing.waiting import wait_until


def installed_copy(site: Path) -> Path:
    """A copy of this gaslatch package under site/ (as pip installs it into site-packages), without caches."""
    root = site / "gaslatch"
    shutil.copytree(os.path.dirname(gaslatch.__file__), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def installed(tmp_path):
    root = installed_copy(tmp_path / "site")
    manifest = str(tmp_path / "manifest.json")
    write_manifest(manifest, str(root))
    return root, manifest


def test_the_manifest_covers_every_code_and_profile_file_and_nothing_else(installed):
    root, manifest = installed
    (root / "profiles" / "README.txt").write_text("not a profile")
    files = installed_files(str(root))

    assert "gaslatch/core/safety.py" in files and "gaslatch/unit/runtime.py" in files
    assert "gaslatch/profiles/cn-generic.json" in files
    assert not [name for name in files if not (name.endswith(".py") or name.startswith("gaslatch/profiles/"))]
    assert check_manifest(manifest, str(root)) == ([], len(files))
    assert sorted(json.loads(Path(manifest).read_text())["files"]) == files


def test_a_modified_missing_or_added_file_is_a_fault_naming_it(installed):
    root, manifest = installed
    with open(root / "core" / "safety.py", "a") as handle:
        handle.write("\n# changed on site\n")
    (root / "profiles" / "xgard-iq.json").unlink()
    (root / "unit" / "helper.py").write_text("")

    faults, _ = check_manifest(manifest, str(root))

    assert faults == ["file modified since install: gaslatch/core/safety.py",
                      "file missing: gaslatch/profiles/xgard-iq.json",
                      "file added since install: gaslatch/unit/helper.py"]


def test_many_files_are_counted_and_a_bad_manifest_is_a_fault(installed, tmp_path):
    root, manifest = installed
    profiles = sorted(os.listdir(root / "profiles"))
    for name in profiles:
        with open(root / "profiles" / name, "a") as handle:
            handle.write(" ")
    faults, _ = check_manifest(manifest, str(root))
    assert faults[0].startswith("%d files modified since install: gaslatch/profiles/analog-msa.json, " % len(profiles))
    assert faults[0].endswith("(+%d more)" % (len(profiles) - 5))

    (tmp_path / "bad.json").write_text("{}")
    assert check_manifest(str(tmp_path / "bad.json"), str(root))[0] == [
        "manifest %s is not a manifest of format 1" % (tmp_path / "bad.json")]
    assert "cannot be read: No such file or directory" in check_manifest(str(tmp_path / "none.json"), str(root))[0][0]


def test_without_a_manifest_configured_nothing_is_checked_and_the_summary_says_so(installed):
    root, manifest = installed
    assert self_test({"self_test": {"manifest": ""}}, str(root)).faults == ()
    assert "not checked" in self_test({"self_test": {"manifest": ""}}, str(root)).summary
    assert self_test({"self_test": {"manifest": manifest}}, str(root)).summary.startswith("passed: ")


@pytest.mark.parametrize("changed", ["profiles/cn-generic.json", "core/detector_state.py"])
def test_a_modified_file_keeps_the_gas_off_with_the_reason_until_restored_and_restarted(tmp_path, installed, changed):
    root, manifest = installed
    original = (root / changed).read_bytes()
    (root / changed).write_bytes(original + b"\n")  # harmless to the code: only the self-test can tell
    bus = DetectorBus(str(tmp_path / "ttyBUS1"), [1, 2])
    site = str(root.parent)
    unit = RunningUnit(tmp_path, bus.link, env={"PYTHONPATH": os.pathsep.join([site, os.environ.get("PYTHONPATH", "")])})
    doc = json.loads(unit.config_path.read_text())
    doc["self_test"] = {"manifest": manifest}
    unit.config_path.write_text(json.dumps(doc))
    unit.set_input("reset_button", False)
    fault = "file modified since install: gaslatch/" + changed
    try:
        unit.start()
        status = unit.request("status")[0]["status"]
        assert status["self_test"]["faults"] == [fault]
        assert status["latched"] and "self-test failed: " + fault in status["reset_blockers"]
        assert unit.line("valve") == "0" and unit.line("fault_relay") == "0"
        # The journal is written by the unit's log thread: READY=1 does not mean the startup line is in the file
        # (the self-test's line, queued before it, is there once it is).
        startup = wait_until(lambda: unit.events("startup"), 10, what="the startup event in the journal")[0]
        assert " severity=fault " in startup and "self-test: failed: " + fault in startup
        assert any("self-test failed, the gas stays off: " + fault in line for line in unit.lines)
        text = subprocess.run([sys.executable, "-m", "gaslatch.unit", "status", "--socket", unit.socket_path],
                              capture_output=True, text=True, timeout=30, env=dict(os.environ, PYTHONPATH=site))
        assert "SELF-TEST FAILED" in text.stdout and fault in text.stdout

        unit.wait_detectors_normal()
        refused = unit.press_reset()
        assert "type=reset_refused " in refused and "self-test failed: " + fault in refused
        assert unit.line("valve") == "0"

        unit.stop()
        (root / changed).write_bytes(original)
        unit.start()
        status = unit.request("status")[0]["status"]
        assert status["self_test"]["faults"] == [] and status["self_test"]["summary"].startswith("passed: ")
        assert "self-test: passed: " in wait_until(lambda: unit.events("startup"), 10,
                                                   what="the second run's startup event in the journal")[0]
        unit.wait_detectors_normal()
        assert "type=reset " in unit.press_reset()
        wait_until(lambda: unit.line("valve") == "1" and unit.line("fault_relay") == "1", 3,
                   what="the gas back after the reset of an intact unit")
    finally:
        unit.close()
        bus.close()


def test_manifest_check_names_a_manifest_it_cannot_read_in_the_readers_language(tmp_path):
    for lang, said in (("zh", "自检故障：无法读取安装清单 %s：No such file or directory"),
                       ("en", "self-test fault: manifest %s cannot be read: No such file or directory")):
        done = subprocess.run([sys.executable, "-m", "gaslatch.unit", "--lang", lang, "manifest", "check",
                               "--path", str(tmp_path / "absent.json")], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stderr.strip() == said % (tmp_path / "absent.json"), done.stderr
