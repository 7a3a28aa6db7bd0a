"""Every scenario of the bench library, run against the real `gaslatch run` process: one test each.

They run in real time (tens of seconds each) and spend it waiting, so scripts/test.sh runs this folder
with pytest-xdist workers; each scenario has its own ports, sockets, broker and folders.
"""

import os

import pytest

from gaslatch_tools.bench import scenario as S
from gaslatch_tools.bench.report import write_report
from gaslatch_tools.bench.runner import BenchRun

LIBRARY = S.library()


@pytest.mark.parametrize("path", LIBRARY, ids=[os.path.splitext(os.path.basename(p))[0] for p in LIBRARY])
def test_scenario_passes_on_the_real_controller(path, tmp_path):
    scenario = S.load(path)
    result = BenchRun(scenario, str(tmp_path / scenario["name"]), path).run()
    paths = write_report(result)
    with open(paths["markdown"], encoding="utf-8") as f:
        summary = f.read()
    assert result.problems == [], summary
    assert result.outcomes and all(o.passed for o in result.outcomes), summary
    assert os.path.getsize(paths["plot"]) > 10_000 and os.path.getsize(paths["trace"]) > 0
