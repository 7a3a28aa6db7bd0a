"""`gaslatch status` and the kitchen panel show each reading in its own unit: ppm for CO and CO2, never %LEL."""

from gaslatch.panel.state_view import view
from gaslatch.unit.status_text import status_text
from gaslatch_tools.kitchen_sim import run_reference_scenario


def co2_status_reply() -> dict:
    """The reference kitchen (two gas detectors, one CO2 module) at the end of its scenario, CO2 at 450 ppm."""
    sim = run_reference_scenario()
    return {"ok": True, "status": sim.controller.status(sim.now_ms)}


def test_status_shows_a_co2_reading_in_ppm_and_a_gas_reading_in_pct_lel():
    text = status_text(co2_status_reply())
    rows = {}
    for line in text.splitlines():  # the detectors' table comes first (the maintenance table names them too)
        if line.split() and line.split()[0] in ("c1", "d1"):
            rows.setdefault(line.split()[0], line)

    assert "450 ppm CO2" in rows["c1"] and "LEL" not in rows["c1"]
    assert "0.00 %LEL" in rows["d1"]


def test_the_panel_shows_a_co2_reading_in_ppm():
    rows = {row["name"]: row for row in view(co2_status_reply())["detectors"]}

    assert rows["c1"]["reading"] == "450 ppm CO2"
    assert rows["d1"]["reading"] == "0.0 %LEL"
