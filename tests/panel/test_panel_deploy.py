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
