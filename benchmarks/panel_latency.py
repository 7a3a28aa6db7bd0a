"""The kitchen panel's update latency and both processes' memory, against issue 16's goals (1 s; 40 MiB).

A real `gaslatch run` (two cn-generic detectors on an emulated bus, 50 ms scans) and a real `gaslatch panel`
beside it. Each round changes what the page shows (inhibit d2, then end it, through the control socket as another
client would) and times until the panel's event stream announces the change and the new state part is fetched,
as the page's script does. Then the resident memory of both processes (VmRSS and VmHWM), against the panel's
budget and the controller's own figure.

    .venv/bin/python benchmarks/panel_latency.py [--rounds 40] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from gaslatch_tools.testing.panel_process import kitchen_with_panel

PANEL_BUDGET_KIB = 40 * 1024
GOAL_S = 1.0


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


class Events:
    """The panel's event stream, read in a thread: the time each `state` event arrived."""

    def __init__(self, url: str):
        self.arrivals: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with httpx.stream("GET", url + "/live", timeout=None) as response:
            for line in response.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: state"):
                    self.arrivals.append(time.monotonic())

    def close(self) -> None:
        self._stop = True


def scan_figures(unit) -> dict:
    """The controller's scan loop so far: scans, overruns, missed deadlines, execution and start jitter."""
    scan = unit.request("status")[0]["status"]["scan"]
    return {"scans": scan["scans"], "overruns": scan["overruns"], "missed": scan["missed_deadlines"],
            "exec_p99_us": scan["execution"]["p99_us"], "exec_max_us": scan["execution"]["max_us"],
            "jitter_p99_us": scan["start_jitter"]["p99_us"], "jitter_max_us": scan["start_jitter"]["max_us"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet-s", type=float, default=20.0, help="the controller alone first, for its baseline")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gaslatch-panel-bench-"))
    alone = {}

    def baseline(unit) -> None:
        time.sleep(args.quiet_s)
        alone.update(scan_figures(unit))

    with kitchen_with_panel(work, before_panel=baseline) as (_, unit, panel):
        panel_start = time.monotonic()
        events = Events(panel.url)
        deadline = time.monotonic() + 10
        while not events.arrivals and time.monotonic() < deadline:
            time.sleep(0.05)
        latencies = []
        client = httpx.Client(base_url=panel.url)
        for i in range(args.rounds):
            seen = len(events.arrivals)
            command = ("inhibit", {"detector": "d2", "minutes": 5}) if i % 2 == 0 else ("end_inhibit",
                                                                                      {"detector": "d2"})
            start = time.monotonic()
            assert unit.request(*command)[0]["ok"], command
            end = time.monotonic() + 5
            while len(events.arrivals) == seen and time.monotonic() < end:
                time.sleep(0.002)
            if len(events.arrivals) == seen:
                raise SystemExit("round %d: the panel announced no change within 5 s" % i)
            page = client.get("/state")
            wanted = '屏蔽 <span class="en">inhibited</span>' in page.text
            if wanted != (i % 2 == 0):
                raise SystemExit("round %d: the state part does not show the change" % i)
            latencies.append(time.monotonic() - start)
        events.close()
        time.sleep(max(0.0, args.quiet_s - (time.monotonic() - panel_start)))  # as long beside the panel as alone
        beside = scan_figures(unit)
        panel_mem, unit_mem = rss_kib(panel.proc.pid), rss_kib(unit.proc.pid)
    lat = sorted(latencies)
    result = {
        "rounds": len(lat), "p50_s": round(statistics.median(lat), 3),
        "p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3), "max_s": round(lat[-1], 3),
        "goal_s": GOAL_S, "panel_rss_kib": panel_mem["VmRSS"], "panel_peak_kib": panel_mem["VmHWM"],
        "panel_budget_kib": PANEL_BUDGET_KIB, "controller_rss_kib": unit_mem["VmRSS"],
        "controller_peak_kib": unit_mem["VmHWM"], "load": os.getloadavg(),
        "scan_alone": alone, "scan_so_far_with_panel": beside,
        "overruns_with_panel": beside["overruns"] - alone["overruns"],
        "missed_with_panel": beside["missed"] - alone["missed"], "scans_with_panel": beside["scans"] - alone["scans"],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print("panel update latency over %d changes: p50 %.3f s, p99 %.3f s, max %.3f s (goal %.1f s: %.0f%% of it at p99)"
          % (result["rounds"], result["p50_s"], result["p99_s"], result["max_s"], GOAL_S,
             100 * result["p99_s"] / GOAL_S))
    print("panel memory: RSS %.1f MiB, peak %.1f MiB (budget %.0f MiB: %.0f%% of it)" % (
        panel_mem["VmRSS"] / 1024, panel_mem["VmHWM"] / 1024, PANEL_BUDGET_KIB / 1024,
        100 * panel_mem["VmHWM"] / PANEL_BUDGET_KIB))
    print("controller memory beside it: RSS %.1f MiB, peak %.1f MiB" % (unit_mem["VmRSS"] / 1024,
                                                                       unit_mem["VmHWM"] / 1024))
    print("controller's scans: %d alone, then %d with the panel polling 5/s: overruns %d alone, %d with the panel; "
          "missed deadlines %d alone, %d with the panel" % (
              alone["scans"], result["scans_with_panel"], alone["overruns"], result["overruns_with_panel"],
              alone["missed"], result["missed_with_panel"]))
    print("scan execution p99 / max: %s / %s us alone, %s / %s us since start with the panel; start jitter p99 / max: "
          "%s / %s us alone, %s / %s us since start" % (
              alone["exec_p99_us"], alone["exec_max_us"], beside["exec_p99_us"], beside["exec_max_us"],
              alone["jitter_p99_us"], alone["jitter_max_us"], beside["jitter_p99_us"], beside["jitter_max_us"]))
    print("load average %.2f %.2f %.2f" % result["load"])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
