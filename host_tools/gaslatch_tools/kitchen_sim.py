"""A kitchen in simulated time: the real controller against simple cn-generic detectors and a valve.

Used by the README demo, the MicroPython gate (it is written in the MicroPython-compatible subset,
so the same scenario runs under both interpreters) and the scan-loop benchmark. The full emulator
with fault injection and wire-exact timing belongs to the HIL bench.
"""

from gaslatch.core import events as E
from gaslatch.core import modbus_rtu
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.detector_profile import load_profile

# cn-generic register 0: unit %LEL (0010) in bits 15-12, one decimal (0100) in bits 11-8.
_FORMAT_PCT_LEL_ONE_DECIMAL = (0x2 << 12) | (0x4 << 8)
STATUS_WARMUP = 0x00
STATUS_NORMAL = 0x01
STATUS_SENSOR_FAULT = 0x03
STATUS_OVER_RANGE = 0x08
_FULL_SCALE_TENTHS_PCT_LEL = 1000  # register 4: 100.0 %LEL; above it the module reports over-range
# A CO2 module of the same map: unit ppm (0000), no decimals; full scale 10000 ppm (the gas type in register 8: 6).
_FORMAT_PPM = 0
_FULL_SCALE_PPM = 10000
_GAS_TYPE_CO2 = 6


class SimDetector:
    """One cn-generic module: ten holding registers, gas in tenths of %LEL (a CO2 module: in whole ppm).

    The one detector model is gaslatch_tools.bench.emulated_detector, which MicroPython cannot import; this one
    decodes exactly as it does (tests/bench/test_emulated_detector.py proves it).
    """

    def __init__(self, address, warmup_polls=1, co2=False):
        self.address = address
        self.co2 = co2
        self.gas_tenths_pct_lel = 0  # whole ppm for a CO2 module
        self.status = STATUS_WARMUP
        self.warmup_polls = warmup_polls
        self.responding = True

    def registers(self):
        if self.warmup_polls > 0:
            self.warmup_polls -= 1
            status = STATUS_WARMUP
        else:
            status = self.status if self.status != STATUS_WARMUP else STATUS_NORMAL
        full_scale = _FULL_SCALE_PPM if self.co2 else _FULL_SCALE_TENTHS_PCT_LEL
        if status == STATUS_NORMAL and self.gas_tenths_pct_lel > full_scale:
            status = STATUS_OVER_RANGE
        reading = 0 if status in (STATUS_WARMUP, STATUS_SENSOR_FAULT) else self.gas_tenths_pct_lel
        if self.co2:
            return [_FORMAT_PPM, min(reading, full_scale), 2000, 2800, full_scale, status, 2048, 700,
                    _GAS_TYPE_CO2 << 8, 500]
        return [_FORMAT_PCT_LEL_ONE_DECIMAL, min(reading, full_scale), 100, 250, full_scale, status, 2048, 700,
                11 << 8, 500]


def reply_to(detectors, frame):
    """The reply of the detectors on a bus (address -> SimDetector) to one request frame, or None.

    None for a malformed frame, an absent or silent address, or a function other than 03.
    """
    try:
        slave, function, address, count = modbus_rtu.parse_request(frame)
    except modbus_rtu.FrameError:
        return None
    det = detectors.get(slave)
    if det is None or not det.responding or function != 3:
        return None
    return modbus_rtu.build_read_response(slave, function, det.registers()[address:address + count])


class SimBus:
    """A multi-drop RS-485 bus: answers a request after its wire time plus a turnaround."""

    def __init__(self, baud, detectors, turnaround_ms=5):
        self.char_us = modbus_rtu.char_time_us(baud, 10)
        self.detectors = dict((d.address, d) for d in detectors)
        self.turnaround_ms = turnaround_ms
        self._queue = []  # (ready_ms, bytes)

    def write(self, now_ms, data):
        reply = reply_to(self.detectors, data) if data else None
        if reply is None:
            return
        wire_ms = ((len(data) + len(reply)) * self.char_us + 999) // 1000
        self._queue.append((now_ms + wire_ms + self.turnaround_ms, reply))

    def read(self, now_ms):
        out = b""
        keep = []
        for ready_ms, data in self._queue:
            if ready_ms <= now_ms:
                out += data
            else:
                keep.append((ready_ms, data))
        self._queue = keep
        return out


# At a 100 ms scan each detector is sampled every 2 scans x 12 = 2.4 s: one lost reply leaves a 4.8 s gap, inside
# the 4.95 s link budget that still confirms a leak within 10 s (config.bus_budget_problem); 16 no longer fit.
DETECTORS_PER_BUS = 12


def base_config(n_detectors=2, period_ms=100, schedule=None):
    """A kitchen with n cn-generic detectors, 12 to a 9600-baud bus, hold valve with closed feedback."""
    detectors = {}
    buses = {}
    for i in range(n_detectors):
        bus = "bus%d" % (i // DETECTORS_PER_BUS + 1)
        buses[bus] = {"port": "/dev/ttyUSB%d" % (i // DETECTORS_PER_BUS), "baud": 9600}
        detectors["d%d" % (i + 1)] = {"kind": "modbus", "bus": bus, "address": i % DETECTORS_PER_BUS + 1,
                                      "profile": "cn-generic", "location": "hood %d" % (i + 1)}
    doc = {
        "unit": {"site": "demo-restaurant", "name": "kitchen-1"},
        "scan": {"period_ms": period_ms},
        "buses": buses,
        "detectors": detectors,
        "valve": {"type": "hold", "feedback": "closed", "travel_s": 2},
        "fan": {"run_on_s": 60},
    }
    if schedule is not None:
        doc["schedule"] = {"enabled": True, "attended": schedule}
    return doc


class KitchenSim:
    """The controller plus simulated detectors, valve and buttons, stepped on simulated time."""

    def __init__(self, n_detectors=2, period_ms=100, schedule=None, start_wall=None, config_doc=None, start_day=None):
        doc = config_doc or base_config(n_detectors, period_ms, schedule)
        profile = load_profile("cn-generic")
        self.cfg = load_config(doc, {"cn-generic": profile.kind})
        self.period_ms = self.cfg["scan"]["period_ms"]
        self.sim_detectors = {}
        on_bus = {}
        for name in sorted(self.cfg["detectors"]):
            det = self.cfg["detectors"][name]
            self.sim_detectors[name] = SimDetector(det["address"], co2=det["measurand"] == "co2")
            on_bus.setdefault(det["bus"], []).append(self.sim_detectors[name])
        self.buses = {}
        for bus in sorted(on_bus):
            self.buses[bus] = SimBus(self.cfg["buses"][bus]["baud"], on_bus[bus])
        self.start_wall = start_wall  # (weekday, minute) at t=0, or None: clock not set
        self.start_day = start_day  # the local date at t=0 (a civil_date day number), or None: not known
        self.controller = Controller(self.cfg, {"cn-generic": profile}, 0)
        self.inputs = {"reset_button": False, "silence_button": False, "valve_feedback_closed": True}
        self.outputs = {}
        self.now_ms = 0
        self.next_scan_ms = 0
        self._clock_origin_ms = None
        self.events = []
        self.replies = []  # one line per command reply and settled reset: "t_ms name ok detail"
        self._commands = []  # (name, args, channel) for the next scan
        self._valve_moving_until_ms = None
        self._release = []

    def wall(self, now_ms):
        if self.start_wall is None:
            return None
        minutes = self.start_wall[0] * 1440 + self.start_wall[1] + now_ms // 60000
        return ((minutes // 1440) % 7, minutes % 1440)

    def today(self, now_ms):
        if self.start_day is None or self.start_wall is None:
            return None
        return self.start_day + (self.start_wall[1] + now_ms // 60000) // 1440

    def scan(self, clock_ms):
        """One controller scan, with the simulated world answering.

        clock_ms may be any monotonic clock (the real one in benchmarks): the kitchen's time starts
        at its first scan.
        """
        if self._clock_origin_ms is None:
            self._clock_origin_ms = clock_ms
        now_ms = clock_ms - self._clock_origin_ms
        self.now_ms = now_ms
        rx = {}
        for bus in self.buses:
            rx[bus] = self.buses[bus].read(now_ms)
        for name, args, channel in self._commands:
            reply = self.controller.command(now_ms, name, args, "sim", channel)
            detail = reply.get("state") or reply.get("message") or reply.get("error")
            self.replies.append("%d %s %s %s" % (now_ms, name, "ok" if reply["ok"] else "refused", detail))
        self._commands = []
        result = self.controller.step(now_ms, rx, self.inputs, None, self.wall(now_ms), self.today(now_ms))
        for ticket, outcome in result.settled:
            self.replies.append("%d reset settled %s %s" % (now_ms, ticket, outcome["state"]))
        for bus in self.buses:
            self.buses[bus].write(now_ms, result.tx.get(bus, b""))
        self._follow_valve(now_ms, result.outputs)
        self.outputs = result.outputs
        self.events.extend(result.events)
        for line in self._release:
            self.inputs[line] = False
        self._release = []
        return result

    def _follow_valve(self, now_ms, outputs):
        """The valve's closed switch opens or makes one travel time after the coil changes."""
        want_closed = not outputs["valve"]
        if want_closed != self.inputs["valve_feedback_closed"]:
            if self._valve_moving_until_ms is None:
                self._valve_moving_until_ms = now_ms + 1000
            elif now_ms >= self._valve_moving_until_ms:
                self.inputs["valve_feedback_closed"] = want_closed
                self._valve_moving_until_ms = None
        else:
            self._valve_moving_until_ms = None

    def run_until(self, t_ms):
        while self.next_scan_ms <= t_ms:
            self.scan(self.next_scan_ms)
            self.next_scan_ms += self.period_ms

    # Stimuli, as a person or the gas would apply them.
    def set_gas(self, name, pct_lel_tenths):
        """Gas at a detector: tenths of %LEL, or whole ppm at a CO2 module."""
        self.sim_detectors[name].gas_tenths_pct_lel = pct_lel_tenths

    def set_responding(self, name, responding):
        self.sim_detectors[name].responding = responding

    def set_status(self, name, code):
        self.sim_detectors[name].status = code

    def press(self, line):
        """A button held for one scan."""
        self.inputs[line] = True
        self._release.append(line)

    def command(self, name, args, channel="local"):
        """A command (commands.COMMANDS) handled in the next scan, as the unit handles its socket's."""
        self._commands.append((name, args, channel))


# The reference scenario: leak, silence, reset refused, reset accepted, comm fault, commands through the
# table (an output test, a reset waiting for the button, a refused inhibit, a remote close), CO2 rising
# through its warning and isolation levels (IGEM/UP/19), schedule close.
# (t_ms, action, args). Gas in tenths of %LEL; CO2 (c1) in ppm.
REFERENCE_SCENARIO = (
    (12000, "press", ("reset_button",)),  # after one warm-up poll and the 10 s clear hold
    (13000, "command", ("test_output", {"line": "sounder", "ms": 500})),
    (14000, "set_gas", ("d1", 50)),
    (16000, "set_gas", ("d1", 120)),
    (19000, "set_gas", ("d1", 300)),
    (24000, "press", ("silence_button",)),
    (29000, "press", ("reset_button",)),
    (34000, "set_gas", ("d1", 0)),
    (39000, "press", ("reset_button",)),  # inside the clear hold: refused
    (44000, "command", ("reset", {})),  # waits for the button
    (45000, "command", ("inhibit", {"detector": "d1", "minutes": 5.5})),  # refused: not a whole number
    (47000, "press", ("reset_button",)),
    (49000, "set_gas", ("c1", 2100)),  # above the 2000 ppm warning: fan and sounder, gas on
    (52000, "set_responding", ("d2", False)),
    (53000, "set_gas", ("c1", 3000)),  # above the 2800 ppm isolation level: trip, latched like gas
    (58000, "set_gas", ("c1", 450)),
    (97000, "press", ("reset_button",)),
    (100000, "set_responding", ("d2", True)),
    (104000, "press", ("reset_button",)),  # d2 answers again, but inside its clear hold: refused
    (112000, "press", ("reset_button",)),
    (127000, "command", ("close_valve", {}, "remote")),  # already latched by the schedule: a new cause
    (125000, "press", ("reset_button",)),
    (128000, "command", ("daily_check", {"items": ["stove", "hose", "valve", "detector_lamps"]})),  # late
)
REFERENCE_END_MS = 130000
# Attended every day 10:00-22:00; the simulation starts on a Monday at 21:58.
REFERENCE_SCHEDULE = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "10:00", "to": "22:00"}]
REFERENCE_START_WALL = (0, 21 * 60 + 58)
# Monday 2026-12-07 (civil_date.parse): d1's calibration is due the next day, so a reminder comes at once; the
# daily check is due by 21:59, so it is missed a minute in and confirmed (late) near the end.
REFERENCE_START_DAY = 20794


def run_reference_scenario():
    """Run REFERENCE_SCENARIO; returns the KitchenSim with its event records."""
    doc = base_config(2, schedule=REFERENCE_SCHEDULE)
    doc["buses"]["co2bus"] = {"port": "/dev/ttyUSB1", "baud": 9600}  # its own bus: d1 and d2 keep their timing
    doc["detectors"]["c1"] = {"kind": "modbus", "bus": "co2bus", "address": 1, "profile": "cn-generic",
                              "measurand": "co2", "location": "cooking line, 1.5 m"}
    doc["lines"] = {"sounder": {"pin": 22}}  # wired, so the output test pulses it
    doc["detectors"]["d1"]["installed"] = "2026-06-11"  # + 180 days = 2026-12-08
    doc["valve"]["installed"] = "2016-12-07"  # 10 years: due today
    doc["daily_check"] = {"enabled": True, "due_by": "21:59"}
    sim = KitchenSim(config_doc=doc, start_wall=REFERENCE_START_WALL, start_day=REFERENCE_START_DAY)
    for t_ms, action, args in REFERENCE_SCENARIO:
        sim.run_until(t_ms - sim.period_ms)
        getattr(sim, action)(*args)
    sim.run_until(REFERENCE_END_MS)
    return sim


def encoded_trace(events):
    """The canonical event lines, joined: what the MicroPython gate compares byte for byte."""
    return "\n".join(E.encode(ev) for ev in events)
