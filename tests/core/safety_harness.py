"""A kitchen for safety tests: real DetectorStates and Safety fed samples directly, on simulated time.

No Modbus in between, so each test says exactly what every detector reported in every scan.
"""

from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core.config import load_config
from gaslatch.core.detector_profile import measured_sample
from gaslatch.core.events import EventLog
from gaslatch.core.safety import Safety

PERIOD_MS = 100


def make_sample(pct_lel=0.0, status=C.STATUS_NORMAL, heartbeat=None, full_scale_pct_lel=None,
                measurand=C.MEASURAND_COMBUSTIBLE):
    """A sample of %LEL, or of ppm (the same arguments) for a CO or CO2 detector's measurand."""
    return measured_sample(
        measurand,
        None if pct_lel is None else D.pct_to_centi(pct_lel),
        status,
        heartbeat,
        None if full_scale_pct_lel is None else D.pct_to_centi(full_scale_pct_lel),
        "",
    )


def config_doc(n_detectors=2, **sections):
    detectors = {}
    for i in range(n_detectors):
        detectors["d%d" % (i + 1)] = {"kind": "modbus", "bus": "bus1", "address": i + 1, "profile": "cn-generic"}
    doc = {
        "unit": {"site": "test-site", "name": "unit-1"},
        "buses": {"bus1": {"port": "/dev/ttyUSB0"}},
        "detectors": detectors,
    }
    for key, value in sections.items():
        doc[key] = value
    return doc


class Kitchen:
    """Detectors report what `gas` (ppm for a CO or CO2 detector), `status` and `silent` say, every scan; or the
    Sample in `samples` (None: no reply and no failed poll, as when the bus did not reach it)."""

    def __init__(self, doc=None, wall=None, self_test_faults=()):
        self.cfg = load_config(doc or config_doc())
        self.log = EventLog()
        self.now_ms = 0
        self.detectors = {}
        zones = {}
        for name, det in self.cfg["detectors"].items():
            self.detectors[name] = D.DetectorState(name, D.settings_from_config(det, self.cfg["alarm"], None, self.cfg["scan"]["period_ms"]), 0)
            zones[name] = det["zone"]
        self.safety = Safety(self.cfg, self.log, zones, self_test_faults)
        self.gas = dict((name, 0.0) for name in self.detectors)
        self.status = dict((name, C.STATUS_NORMAL) for name in self.detectors)
        self.silent = set()
        self.samples = {}  # name -> the Sample this scan (None: the detector was not polled), instead of gas/status
        self.inputs = {"valve_feedback_closed": True, "fan_proven": True, "fire_input": False, "estop_input": False}
        self.wall = wall
        self.analog = {}  # channel -> loop current in µA (a pressure transmitter)
        self.outputs = {}
        self.events = []
        self.scan_log = []  # (now_ms, states before, states after, outputs before, outputs after, events)

    def scan(self):
        before = dict((n, d.state) for n, d in self.detectors.items())
        outputs_before = dict(self.outputs)
        transitions = []
        for name in sorted(self.detectors):
            sample = None
            if name in self.samples:
                sample = self.samples[name]
            elif name in self.silent:
                self.detectors[name].note_comm_error(self.now_ms, "timeout")  # each scan polls each detector
            else:
                sample = make_sample(self.gas[name], self.status[name], measurand=self.detectors[name].measurand)
            tr = self.detectors[name].update(self.now_ms, sample)
            if tr is not None:
                transitions.append(tr)
        self.outputs = self.safety.evaluate(self.now_ms, self.detectors, transitions, self.inputs, self.wall,
                                            self.analog)
        new = self.log.drain()
        self.events.extend(new)
        after = dict((n, d.state) for n, d in self.detectors.items())
        self.scan_log.append((self.now_ms, before, after, outputs_before, dict(self.outputs), new))
        for line in ("reset_button", "silence_button"):
            self.inputs[line] = False
        self.now_ms += PERIOD_MS
        return new

    def run(self, ms):
        end = self.now_ms + ms
        while self.now_ms < end:
            self.scan()

    def press(self, line):
        """A button held for one scan; returns that scan's events."""
        self.inputs[line] = True
        return self.scan()

    def settle(self):
        """Past warm-up and confirmation; then a local reset so the gas is on."""
        self.run(1000)
        events = self.press("reset_button")
        assert any(e["type"] == "reset" for e in events), events
        self.run(PERIOD_MS)

    def events_of(self, type_):
        return [e for e in self.events if e["type"] == type_]

    @property
    def valve_open(self):
        return self.outputs.get("valve", False)
