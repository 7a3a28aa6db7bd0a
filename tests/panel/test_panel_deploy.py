"""The panel's systemd unit: unprivileged, below the controller, verified by systemd-analyze."""

from __future__ import annotations


def test_the_panel_s_service_runs_unprivileged_below_the_controller_and_passes_systemd_analyze(tmp_path):
    import re
    import subprocess
    from pathlib import Path

    from tests.platform.test_platform_deploy import joined
    from tests.test_deploy import parse_unit, tool

    unit = Path(__file__).resolve().parents[2] / "deploy" / "gaslatch-panel.service"
    keys = parse_unit(joined(unit.read_text(encoding="utf-8")))["Service"]
    assert keys["User"] == ["gaslatch-panel"] and keys["CapabilityBoundingSet"] == [""]
    assert keys["SupplementaryGroups"] == ["gaslatch"], "the control socket's group, nothing more"
    assert int(keys["Nice"][0]) > 0 and int(keys["OOMScoreAdjust"][0]) > 0
    assert "--listen 127.0.0.1:" in keys["ExecStart"][0], "the LAN only when the installer opens it"
    analyze = tool("systemd-analyze", "apt-get install systemd")
    stand_in = tmp_path / "gaslatch-unit"
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    stand_in.chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text(encoding="utf-8").replace("/opt/gaslatch/venv/bin/gaslatch-unit", str(stand_in)))
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    exposure = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(unit)],
                              capture_output=True, text=True, timeout=60).stdout
    assert float(re.search(r"Overall exposure level for gaslatch-panel\.service: (\d+\.\d+)", exposure).group(1)) <= 2.0


def test_install_with_panel_adds_its_user_in_the_control_group_and_its_service_and_says_how_to_set_pins():
    from tests.test_deploy import dry_run

    done = dry_run("--dry-run", "--panel")  # --dry-run first, always: as root the script would install
    assert done.returncode == 0, done.stderr
    out = done.stdout.replace("\\", "")  # the commands are printed shell-quoted
    assert "[11/11] kitchen panel" in out and "src[pi,panel]" in out
    assert "useradd --system --user-group --groups gaslatch" in out
    assert "gaslatch-panel.service /etc/systemd/system/gaslatch-panel.service" in out
    assert "panel-pin operator --pins /var/lib/gaslatch-panel/pins.json" in out
    plain = dry_run("--dry-run")
    assert "[10/10]" in plain.stdout and "gaslatch-panel" not in plain.stdout, "no panel unless asked"
