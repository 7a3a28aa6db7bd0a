"""The real core driven through every situation that records a sentence, on fake clocks: every text it recorded.

tests/unit/test_recorded_text.py checks each against the phrasebook (gaslatch/recorded_text.py) both ways. The
setups are those of the core's own tests (test_proving, test_airflow, test_safety, test_toxic_channels,
test_lifecycle, test_daily_check, test_controller); nothing here is mocked.
"""

from gaslatch.core import civil_date as CD
from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core import proving as PV
from gaslatch.core.config import load_config
from gaslatch.core.controller import Controller
from gaslatch.core.daily_check import DailyCheck
from gaslatch.core.detector_profile import list_profiles, load_profile, measured_sample
from gaslatch.core.events import EventLog
from gaslatch.core.lifecycle import Lifecycle

from tests.core.safety_harness import PERIOD_MS, Kitchen, config_doc, make_sample
from tests.core.test_proving import PROVING, TRANSMITTER
from tests.core.test_safety import EVERY_DAY

PROFILES = dict((name, load_profile(name)) for name in list_profiles())
KINDS = dict((name, profile.kind) for name, profile in PROFILES.items())
FAN = {"mode": "continuous", "proving": True, "proving_grace_s": 5, "loss_confirm_s": 3, "rundown_s": 20}


class Recorded(Kitchen):
    """A Kitchen that keeps every text it recorded or showed: each event's reason, and after every scan the trip
    reason, what would block a reset, and each detector's reason (as the status gives them)."""

    def __init__(self, texts, doc=None, **kw):
        self.texts = texts
        super().__init__(doc, **kw)

    def scan(self):
        new = super().scan()
        self.texts.update(e["reason"] for e in new)
        self.texts.add(self.safety.trip_reason)
        self.texts.update(self.safety.reset_blockers(self.now_ms, self.detectors, self.inputs))
        self.texts.update(det.reason for det in self.detectors.values())
        return new


def _pipe(k, pressure):
    """`pressure(valve_open, was)` -> the switch's level (True made, False open, None unreadable) each scan."""
    def scan():
        k.inputs[PV.IN_GAS_PRESSURE] = pressure(k.outputs.get("valve", False), k.inputs.get(PV.IN_GAS_PRESSURE))
        return k.scan()
    return scan


def _run(scan, ms):
    for _ in range(ms // PERIOD_MS):
        scan()


def proving(texts):
    """Switch: passed, each phase failed, unreadable, each phase interrupted; transmitter: passed, unreadable."""
    tight = lambda valve_open, was: bool(was) or valve_open  # noqa: E731 - fills, then holds
    for pressure, interrupt_ms in (
            (tight, None),
            (lambda valve_open, was: True, None),  # a passing valve: pressure in the check
            (lambda valve_open, was: False, None),  # no supply: nothing after the fill
            (lambda valve_open, was: valve_open, None),  # a leak: gone as soon as the valve closes
            (lambda valve_open, was: None, None),  # an unreadable switch
            (tight, 1000), (lambda valve_open, was: False, 3500), (tight, 6000)):  # a close in each phase
        k = Recorded(texts, config_doc(proving=PROVING, valve={"type": "hold", "travel_s": 2}))
        k.run(1000)
        scan = _pipe(k, pressure)
        k.inputs["reset_button"] = True
        scan()
        if interrupt_ms is not None:
            _run(scan, interrupt_ms)
            k.safety.command_close_valve(k.now_ms, "remote")
        _run(scan, 11000)
    for readable in (True, False):
        k = Recorded(texts, config_doc(proving=TRANSMITTER, valve={"type": "hold", "travel_s": 2}))
        k.run(1000)
        k.inputs["reset_button"] = True
        filled = False
        for _ in range(110):
            filled = filled or k.outputs.get("valve", False)
            k.analog = {"ain3": 6800 if filled else 4000} if readable else {}
            k.scan()


def airflow(texts):
    """The no-air check, the bridged switch, the proving grace, losing and losing for good."""
    doc = config_doc(fan=FAN)
    doc["lines"] = {"fan": {"pin": 27}, "fan_proven": {"pin": 16}}
    k = Recorded(texts, doc)
    k.inputs["fan_proven"] = True  # made with the fan stopped
    k.run(1000)
    k.press("reset_button")  # the no-air check
    k.run(20000)  # bridged
    k.press("reset_button")
    k.inputs["fan_proven"] = False  # mended: the fan starts
    k.run(1000)
    k.press("reset_button")
    k.inputs["fan_proven"] = True
    k.run(1000)
    k.press("reset_button")
    k.inputs["fan_proven"] = False
    k.run(1000)  # losing
    k.run(3000)  # lost


def valve(texts):
    """Not closed, not open, both switches, back in place; a pulse valve's pulses."""
    k = Recorded(texts, config_doc(valve={"feedback": "closed", "travel_s": 3}))
    k.run(1000)
    k.press("reset_button")
    k.run(4000)  # commanded open, the closed switch still made
    k.inputs["valve_feedback_closed"] = False
    k.run(1000)
    k.gas["d1"] = 30.0
    k.run(5000)  # commanded closed, not closed
    k = Recorded(texts, config_doc(valve={"type": "motorised", "feedback": "both", "travel_s": 3}))
    k.inputs["valve_feedback_open"] = True
    k.run(1000)
    k = Recorded(texts, config_doc(valve={"type": "pulse", "pulse_ms": 500}))
    k.run(1000)


def interlocks_schedule_silence_inhibit(texts):
    k = Recorded(texts, config_doc(interlocks={"fire_input": True, "estop_input": True}))
    k.settle()
    for line in ("fire_input", "estop_input"):
        k.inputs[line] = True
        k.run(300)
        k.press("reset_button")
        k.inputs[line] = False
        k.run(300)
    schedule = {"enabled": True, "attended": [{"days": EVERY_DAY, "from": "10:00", "to": "22:00"}]}
    k = Recorded(texts, config_doc(schedule=schedule), wall=None)
    k.run(1000)
    k.wall = (0, 9 * 60 + 59)
    k.run(1000)
    k.wall = (0, 10 * 60)
    k.run(1000)
    k.press("reset_button")
    k.wall = (0, 22 * 60)
    k.run(300)
    k = Recorded(texts, config_doc(sounder={"silence_s": 60}, inhibit={"max_minutes": 10}))
    k.settle()
    k.gas["d1"] = 12.0
    k.run(1000)
    k.press("silence_button")
    k.gas["d2"] = 30.0
    k.run(1000)  # a new alarm sounds again
    k.press("silence_button")
    k.run(61000)  # the silence expires
    k.press("silence_button")
    k.gas["d1"] = k.gas["d2"] = 0.0
    k.run(12000)  # the alarms clear
    k.press("reset_button")
    k.run(1000)
    assert k.safety.command_inhibit(k.now_ms, "d1", 1, "panel maintenance")[0]
    k.run(61000)
    assert k.safety.command_inhibit(k.now_ms, "d2", 5, "panel maintenance")[0]
    k.scan()
    assert k.safety.command_end_inhibit(k.now_ms, "d2", "panel maintenance")[0]
    k.scan()


def detectors(texts):
    """Unstable, a degraded link and back, blind long enough to trip, every reason a detector gives."""
    k = Recorded(texts)
    k.settle()
    for i in range(300):  # the independent bench's flapping detector
        k.status["d1"] = C.STATUS_HIGH_ALARM if (i // 5) % 2 == 0 else C.STATUS_NORMAL
        k.gas["d1"] = 2.0
        k.press("reset_button") if i % 3 == 0 else k.scan()
    k.status["d1"] = C.STATUS_NORMAL
    k.gas["d1"] = 0.0
    k.run(12000)
    texts.add(k.safety.command_inhibit(k.now_ms, "d1", 5, "test")[1])  # refused: unstable
    k = Recorded(texts)
    k.settle()
    k.gas["d1"] = 30.0
    k.scan()  # one unconfirmed sample above the high set point: still normal, inside its clear hold
    k.gas["d1"] = 0.0
    k.run(3000)
    texts.add(k.safety.command_inhibit(k.now_ms, "d1", 5, "test")[1])
    k = Recorded(texts)
    k.settle()
    for _ in range(32):  # every other poll lost
        k.silent.symmetric_difference_update({"d1"})
        k.scan()
    texts.add(k.safety.command_inhibit(k.now_ms, "d1", 5, "test")[1])  # refused: a degraded link
    k.silent.discard("d1")
    k.run(11000)
    k.silent.add("d2")  # blind: link budget, comm lost, then the fault trip
    k.run(31000)
    k.silent.discard("d2")
    k.run(12000)
    for alarm, polled in (({}, False), ({"comm_lost_after_s": 2}, False), ({"comm_lost_after_s": 2}, True)):
        # silent past the link budget, or comm lost sooner than it; no reply, with or without a failed poll
        k = Recorded(texts, config_doc(alarm=alarm))
        k.run(1000)
        if polled:
            k.silent.add("d2")
        else:
            k.samples["d2"] = None  # never answered, no poll failed either
        k.run(11000)
    k = Recorded(texts)
    k.settle()
    for _ in range(400):  # a degraded link long enough to trip: a normal detector, blind
        k.silent.symmetric_difference_update({"d1"})
        k.scan()
    k = Recorded(texts)
    k.settle()
    bad = [make_sample(50.0, C.STATUS_OVER_RANGE), make_sample(30.0, C.STATUS_HIGH_ALARM),
           make_sample(5.0, C.STATUS_LOW_ALARM), make_sample(5.0, C.STATUS_PRE_ALARM), make_sample(15.0),
           make_sample(0.0, C.STATUS_FAULT), make_sample(0.0, C.STATUS_CALIBRATION),
           make_sample(0.0, C.STATUS_END_OF_LIFE), make_sample(0.0, "weird"), make_sample(-20.0),
           measured_sample(C.MEASURAND_COMBUSTIBLE, 1.5, C.STATUS_NORMAL, None, None, ""),
           measured_sample(C.MEASURAND_CO, 500, C.STATUS_NORMAL, None, None, ""), make_sample(0.0, C.STATUS_WARMUP)]
    for sample in bad:
        k.samples["d1"] = sample
        k.run(1000)
        k.samples["d1"] = make_sample(30.0)
        k.run(1000)  # confirmed high
        k.samples["d1"] = make_sample(12.0)
        k.run(1000)  # below the high set point
        del k.samples["d1"]
        k.run(12000)  # clear for the clear hold
    # One detector on its own, its clock jumping: the warm-up overdue, a frozen heartbeat.
    cfg = load_config(config_doc(1))
    settings = D.settings_from_config(cfg["detectors"]["d1"], cfg["alarm"], 2000, cfg["scan"]["period_ms"])
    det = D.DetectorState("h1", settings, 0)
    for t_ms in range(0, 301000, 1000):
        det.update(t_ms, make_sample(0.0, C.STATUS_WARMUP))
        texts.add(det.reason)
    det = D.DetectorState("h2", settings, 0)
    for t_ms in range(0, 30000, 500):
        det.update(t_ms, make_sample(0.0, C.STATUS_NORMAL, heartbeat=7))
        texts.add(det.reason)


def toxic(texts):
    """CO at its trip level, CO2 at its isolation level (test_toxic_channels' kitchen)."""
    doc = config_doc(1)
    doc["detectors"]["c1"] = {"kind": "modbus", "bus": "bus1", "address": 2, "profile": "cn-generic",
                              "measurand": C.MEASURAND_CO2}
    doc["detectors"]["k1"] = {"kind": "modbus", "bus": "bus1", "address": 3, "profile": "cn-generic",
                              "measurand": C.MEASURAND_CO}
    k = Recorded(texts, doc)
    k.gas["c1"] = 450.0
    k.settle()
    k.gas["c1"] = 3000.0
    k.gas["k1"] = 150.0
    k.run(2000)


def startup_and_commands(texts):
    """The auto-arm, a self-test that failed, commands and a panel's access through the controller."""
    k = Recorded(texts, config_doc(valve={"startup": "auto_arm_external_manual_valve"}))
    k.run(1000)
    Recorded(texts, self_test_faults=["/opt/gaslatch/core/safety.py differs from the manifest"]).run(1000)
    doc = {"unit": {"site": "s", "name": "u"}, "detectors": {"d1": {"kind": "contact", "line": "gas_contact"}},
           "lines": {"sounder": {"pin": 22}}}
    for faults in ((), ("/opt/gaslatch/core/safety.py differs from the manifest",)):
        ctl = Controller(load_config(doc, KINDS), PROFILES, 0, self_test_faults=faults)
        events = list(ctl.step(0, inputs={"gas_contact": False}).events)
        ctl.command(100, "test_output", {"line": "sounder", "ms": 500}, "panel installer")
        ctl.command(100, "test_output", {"line": "valve", "ms": 500}, "panel installer")
        ctl.command(100, "close_valve", {}, "platform", "remote")
        for what, level in (("login", "operator"), ("login_failed", "maintenance"), ("locked_out", "installer"),
                            ("logout", "operator"), ("timed_out", "operator")):
            ctl.command(100, "access", {"what": what, "level": level}, "panel")
        events += ctl.step(200, inputs={"gas_contact": False}).events
        events += ctl.step(300, inputs={"gas_contact": True}).events  # a contact detector: no reading
        status = ctl.status(300)
        texts.update(e["reason"] for e in events)
        texts.update([status["trip_reason"], *status["reset_blockers"]])


def lifecycle(texts):
    """Every stage of every reminder, and one no longer configured (test_lifecycle's kitchen)."""
    hood = {"kind": "modbus", "bus": "b", "address": 1, "profile": "cn-generic", "installed": "2026-01-10"}
    calibrated = dict(hood, calibrated="2026-05-01")
    for det, announced, first, last in (
            (hood, None, "2026-01-01", "2029-02-01"),  # soon (30 days), due today, for each reminder
            (hood, None, "2026-07-08", "2026-07-08"),  # soon, in 1 day
            (hood, None, "2030-01-01", "2030-01-01"),  # was due
            (calibrated, {"hood1:calibration": ("due", "2026-07-09"), "gone:calibration": "due"},
             "2026-05-02", "2026-05-02")):  # recalibrated: next due; a detector removed
        cfg = load_config({"unit": {"site": "s", "name": "u"}, "buses": {"b": {"port": "/dev/ttyUSB0"}},
                           "detectors": {"hood1": det}, "valve": {"installed": "2016-03-01"}}, KINDS)
        log = EventLog()
        reminders = Lifecycle(cfg, announced)
        for day in range(CD.parse(first), CD.parse(last) + 1):
            reminders.update(day, day, log)
        texts.update(e["reason"] for e in log.drain())


def daily_check(texts):
    """Confirmed in time one day, missed and confirmed late the next (test_daily_check's kitchen)."""
    doc = {"unit": {"site": "s", "name": "u"}, "detectors": {"d1": {"kind": "contact", "line": "gas_contact"}},
           "daily_check": {"enabled": True, "due_by": "11:00"}}
    ctl = Controller(load_config(doc, KINDS), PROFILES, 0)
    monday = CD.parse("2026-12-07")
    for t_ms, day, minute in ((100, monday, 600), (200, monday + 1, 660)):
        texts.update(e["reason"] for e in ctl.step(t_ms, inputs={"gas_contact": False}, wall=(CD.weekday(day), minute),
                                                   today=day).events)
        ctl.command(t_ms, "daily_check", {"items": ["stove", "hose", "valve", "detector_lamps"]}, "panel operator")
        texts.update(e["reason"] for e in ctl.drain_events())


def unit_stopping(texts, workdir):
    """The unit's own record through the controller's record path: its shutdown (test_wall_reading's unit). Its bus
    records are not sentences of ours (a port's OS error, or its settings) and are left out."""
    import io

    from gaslatch.unit.event_store import EventReader
    from gaslatch.unit.runtime import Runtime
    from gaslatch_tools.testing.kitchen_config import kitchen_config
    from tests.in_process_runtime import signal_handlers_kept

    doc = kitchen_config(workdir, [workdir + "/ttyNONE"], 1, control_socket=workdir + "/c.sock",
                         lines={"valve": {"pin": 17}, "reset_button": {"pin": 5}})
    cfg = load_config(doc, KINDS)
    with signal_handlers_kept():
        runtime = Runtime(cfg, PROFILES, log_stream=io.StringIO())
        try:
            runtime.scan(runtime.clock.now_us() // 1000)
        finally:
            runtime.shutdown("signal SIGTERM")
    texts.update(e["reason"] for e in EventReader(cfg["store"]["path"]).query(types=["shutdown"]))


def _answered(texts, reply):
    """The texts of one reply a person reads: its message or error, and each reason of a refused reset."""
    texts.update(reply.get(key) for key in ("message", "error") if reply.get(key))
    texts.update(reply.get("reasons") or ())
    return reply


def command_answers(texts):
    """Every answer of every command through the controller's dispatch (core/commands.py), each accept and refuse
    path (test_commands' kitchens; an inhibit refused for a distrusted detector or its clear hold: detectors()).
    Arguments that do not fit the table are refused with json_schema_subset's problems, which are no phrases."""
    from gaslatch_tools.kitchen_sim import KitchenSim, base_config

    doc = base_config(3)
    doc["detectors"]["d3"]["measurand"] = C.MEASURAND_CO2
    doc["lines"] = dict((line, {"pin": 20 + i}) for i, line in enumerate(("sounder", "fan", "fault_relay")))
    doc["inhibit"] = {"max_minutes": 10}
    sim = KitchenSim(config_doc=doc)

    def ask(name, args=None, channel="local"):
        return _answered(texts, sim.controller.command(sim.now_ms, name, args or {}, "test", channel))

    ask("inhibit", {"detector": "d1", "minutes": 5})  # before the first scan: not read yet
    sim.run_until(12000)
    for name, args, channel in (
            ("reset", {}, "local"), ("silence", {}, "local"), ("inhibit", {"detector": "nope", "minutes": 5}, "local"),
            ("inhibit", {"detector": "d1", "minutes": 11}, "local"), ("inhibit", {"detector": "d3", "minutes": 5}, "local"),
            ("inhibit", {"detector": "d1", "minutes": 5}, "local"), ("inhibit", {"detector": "d2", "minutes": 5}, "local"),
            ("end_inhibit", {"detector": "d2"}, "local"), ("end_inhibit", {"detector": "d1"}, "local"),
            ("test_output", {"line": "sounder", "ms": 500}, "local"), ("test_output", {"line": "beacon", "ms": 500}, "local"),
            ("test_output", {"line": "reset_button", "ms": 500}, "local"), ("test_output", {"line": "valve", "ms": 500}, "local"),
            ("close_valve", {}, "remote"), ("sync_time", {}, "remote"), ("access", {"what": "login", "level": "operator"}, "local"),
            ("daily_check", {"items": ["stove"]}, "local"), ("no_such_command", {}, "local"), ("reset", {}, "remote"),
            ("silence", {}, "remote")):
        assert ask(name, args, channel), name
    sim.set_gas("d1", 300)
    sim.run_until(sim.now_ms + 4000)
    ask("silence")
    ask("reset")  # refused: the reasons
    ask("inhibit", {"detector": "d1", "minutes": 5})  # in high alarm
    sim.set_gas("d1", 0)
    sim.run_until(sim.now_ms + 14000)
    sim.press("reset_button")
    sim.run_until(sim.now_ms + 3000)
    ask("reset")  # not tripped
    # The daily check: the clock not set, then an unknown item, one not ticked, confirmed, and confirmed again.
    doc = {"unit": {"site": "s", "name": "u"}, "detectors": {"d1": {"kind": "contact", "line": "gas_contact"}},
           "daily_check": {"enabled": True, "due_by": "11:00"}}
    ctl = Controller(load_config(doc, KINDS), PROFILES, 0)
    items = ["stove", "hose", "valve", "detector_lamps"]
    ctl.step(100, inputs={"gas_contact": False})
    _answered(texts, ctl.command(100, "daily_check", {"items": items}, "panel operator"))
    monday = CD.parse("2026-12-07")
    ctl.step(200, inputs={"gas_contact": False}, wall=(CD.weekday(monday), 600), today=monday)
    for ticked in (items + ["oven"], items[:2], items, items):
        _answered(texts, ctl.command(200, "daily_check", {"items": ticked}, "panel operator"))
    # A day confirmed before a restart by an older unit's record (no source): confirmed again, by nobody named.
    check = DailyCheck(load_config(doc, KINDS), ("done", "2026-12-07"))
    texts.add(check.confirm(300, monday, 600, items, "panel operator", EventLog())[1])


def self_test(texts, workdir):
    """The unit's start-up self-test (gaslatch/unit/manifest.py, test_manifest's files): no manifest, passed, each
    fault of the files (one and several modified, missing, added), and each manifest that cannot be used."""
    import json
    import os

    from gaslatch.unit.manifest import check_manifest, self_test as run_self_test, write_manifest

    root = os.path.join(workdir, "installed", "gaslatch")
    os.makedirs(os.path.join(root, "core"))
    for name in ("a.py", "b.py", "core/c.py", "core/d.py"):
        with open(os.path.join(root, name), "w") as handle:
            handle.write("x = 1\n")
    manifest = os.path.join(workdir, "manifest.json")
    write_manifest(manifest, root)
    cfg = {"self_test": {"manifest": ""}}
    texts.add(run_self_test(cfg, root).summary)
    cfg["self_test"]["manifest"] = manifest
    texts.add(run_self_test(cfg, root).summary)
    for changed in (("a.py",), ("a.py", "b.py")):
        for name in changed:
            with open(os.path.join(root, name), "a") as handle:
                handle.write("y = 2\n")
        texts.update(check_manifest(manifest, root)[0])
    for name in ("core/c.py", "core/d.py"):
        os.remove(os.path.join(root, name))
        texts.update(check_manifest(manifest, root)[0])
    for name in ("e.py", "f.py"):
        with open(os.path.join(root, name), "w") as handle:
            handle.write("z = 3\n")
        texts.update(check_manifest(manifest, root)[0])
    for content in (b"{", json.dumps({"format": 99, "files": {}}).encode()):
        with open(manifest, "wb") as handle:
            handle.write(content)
        texts.update(check_manifest(manifest, root)[0])
    texts.update(check_manifest(os.path.join(workdir, "absent.json"), root)[0])
    write_manifest(manifest, root)
    os.remove(os.path.join(root, "e.py"))
    os.symlink(os.path.join(workdir, "nowhere.py"), os.path.join(root, "e.py"))  # listed, and cannot be read
    texts.update(check_manifest(manifest, root)[0])
    texts.update(run_self_test(cfg, root).faults)


SITUATIONS = (proving, airflow, valve, interlocks_schedule_silence_inhibit, detectors, toxic, startup_and_commands,
              lifecycle, daily_check, command_answers)


def recorded_texts(workdir):
    """Every text the core recorded or showed in SITUATIONS, and the unit's shutdown record (whole, as recorded:
    parts joined by "; "); workdir: an empty folder for the unit's files."""
    texts = set()
    for situation in SITUATIONS:
        situation(texts)
    unit_stopping(texts, workdir)
    self_test(texts, workdir)
    texts.discard("")
    return texts
