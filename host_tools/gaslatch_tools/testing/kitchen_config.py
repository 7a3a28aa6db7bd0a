"""The configuration of a kitchen unit run as a process on this machine: cn-generic detectors on the given ports, the
sim GPIO, a store, a control socket, no hardware watchdog and no install manifest, in one folder. Built once for the tests, the bench
(bench.scenario.controller_document) and the benchmarks.
"""

from __future__ import annotations

import copy
import grp
import os
from typing import Any, Mapping, Sequence

# The output lines and the reset button, on the sim GPIO's files (<workdir>/gpio/<line>/value).
UNIT_LINES = {"valve": {"pin": 17}, "reset_button": {"pin": 5}, "fan": {"pin": 19}, "sounder": {"pin": 13},
              "beacon": {"pin": 26}, "fault_relay": {"pin": 6}}
BAUD = 9600


def kitchen_config(workdir: str, ports: Sequence[str] = (), detectors_per_bus: int = 2, *, period_ms: int = 50,
                   profile: str = "cn-generic", baud: int = BAUD, lines: Mapping[str, Any] = UNIT_LINES,
                   control_socket: str | None = None, group: str | None = None, **sections: Any) -> dict:
    """The unit's configuration document: bus1, bus2 ... on `ports` at `baud`, each with detectors_per_bus
    detectors of `profile` at addresses 1, 2 ... (named d1, d2 ... bus after bus), as DetectorBus serves them.

    Files in workdir: gpio/ (the sim lines), events.db, control.sock (or control_socket), owned by `group` (the
    caller's own group by default). sections replace whole top-level sections (uplink, valve, detectors ...).
    """
    buses = {"bus%d" % (index + 1): {"port": port, "baud": baud} for index, port in enumerate(ports)}
    detectors = {}
    for bus in buses:
        for address in range(1, detectors_per_bus + 1):
            detectors["d%d" % (len(detectors) + 1)] = {"kind": "modbus", "bus": bus, "address": address,
                                                       "profile": profile}
    doc: dict[str, Any] = {
        "unit": {"site": "bench", "name": "unit-1"},
        "scan": {"period_ms": period_ms},
        "buses": buses,
        "detectors": detectors,
        "gpio": {"backend": "sim", "sim_dir": os.path.join(workdir, "gpio"), "debounce_ms": 20},
        "lines": copy.deepcopy(dict(lines)),
        "store": {"path": os.path.join(workdir, "events.db")},
        "control": {"socket": control_socket or os.path.join(workdir, "control.sock"),
                    "group": group or grp.getgrgid(os.getgid()).gr_name},
        "watchdog": {"device": ""},
        "self_test": {"manifest": ""},  # the unit runs from the source tree, not an install.sh install
    }
    doc.update(copy.deepcopy(sections))
    return doc
