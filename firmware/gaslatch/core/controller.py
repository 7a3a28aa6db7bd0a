"""The controller: one `step()` per scan turns bytes and line levels into bytes, levels and events.

Sans I/O, like h11: the platform (or a simulation, or MicroPython) feeds it what was read and
writes what it returns. It owns the bus masters, the detectors' state machines, the safety logic, the
reset window and the output tests. Its public methods are the only way in: the unit, the bench, the
simulation and a board port all drive it through them (docs/architecture.md, "The path of one reading").
"""

from gaslatch.core import commands as K
from gaslatch.core import constants as C
from gaslatch.core import detector_state as D
from gaslatch.core import events as E
from gaslatch.core import modbus_rtu
from gaslatch.core.config import ConfigError, Problem, bus_budget_problem
from gaslatch.core.config_identity import config_identity, config_version, short_identity
from gaslatch.core.daily_check import DailyCheck
from gaslatch.core.events import EventLog
from gaslatch.core.lifecycle import Lifecycle
from gaslatch.core.modbus_master import BusMaster
from gaslatch.core.output_test import OutputTests
from gaslatch.core.reset_window import ResetWindow
from gaslatch.core.safety import Safety
from gaslatch.core.text import N_


# What the status gives of each recent event (the panel's list): the record, its value included (the reading of
# a detector's alarm, an inhibit's minutes), so the panel's headlines say what the record says.
RECENT_FIELDS = ("seq", "t_ms", "type", "severity", "source", "state", "value", "reason")
# What the startup event and the status say when the platform ran no self-test (a simulation, the core's tests).
NO_SELF_TEST = "not run by this platform"


class StepResult:
    """What one scan wants written: bytes per bus, output levels, the new event records, and the
    (ticket, outcome) of reset requests settled in this scan (see command "reset")."""

    def __init__(self, tx, outputs, events, settled=()):
        self.tx = tx
        self.outputs = outputs
        self.events = events
        self.settled = settled


class Controller:
    """Built from a normalised config (config.load_config) and the profiles it names."""

    def __init__(self, cfg, profiles, now_ms, first_seq=1, self_test_faults=(), self_test_summary=NO_SELF_TEST,
                 announced=None, last_daily_check=None):
        """profiles: profile name -> detector_profile.Profile; first_seq continues numbering after a restart.

        announced: maintenance_due event source -> the stage its last event gave (or (stage, due date) as its state
        and value); last_daily_check: (state, date[, source]) of the last daily_check event, or a list of the last
        ones (oldest first): both from the store, so that a restart repeats no reminder.

        self_test_faults: what the platform's start-up self-test found wrong (installed files that differ from
        the manifest...): each keeps the valve latched, drops the fault relay and blocks every reset for this
        whole run. self_test_summary: what the self-test checked, for the startup event and the status.
        """
        self.cfg = cfg
        self.config_identity = config_identity(cfg, profiles)
        self.config_version = config_version(cfg)
        self.self_test_summary = ("failed: " + "; ".join(self_test_faults)) if self_test_faults else self_test_summary
        self.log = EventLog(first_seq)
        self.buses = {}
        for bus_name in sorted(cfg["buses"]):
            bus = cfg["buses"][bus_name]
            self.buses[bus_name] = BusMaster(
                bus_name, bus["baud"], modbus_rtu.bits_per_char(bus["parity"], bus["stop_bits"]),
                bus["response_timeout_ms"], bus["retries"])
        self.detectors = {}
        self.kinds = {}
        self.profiles = {}
        zones = {}
        for name in sorted(cfg["detectors"]):
            det = cfg["detectors"][name]
            profile = profiles[det["profile"]]
            heartbeat_ms = profile.heartbeat_frozen_after_ms if det["kind"] == "modbus" else None
            settings = D.settings_from_config(det, cfg["alarm"], heartbeat_ms, cfg["scan"]["period_ms"])
            self.detectors[name] = D.DetectorState(name, settings, now_ms)
            self.kinds[name] = det["kind"]
            self.profiles[name] = profile
            zones[name] = det["zone"]
            if det["kind"] == "modbus":
                interval_ms = max(det["poll_interval_ms"], profile.min_poll_interval_ms)
                self.buses[det["bus"]].add_poll(det["address"], profile.reads, interval_ms, name)
        self.safety = Safety(cfg, self.log, zones, self_test_faults, "config %s version %d; self-test: %s" % (
            self.config_identity, self.config_version, self.self_test_summary))
        self.reset_window = ResetWindow(cfg["control"]["reset_window_s"])
        self.output_tests = OutputTests()
        self.lifecycle = Lifecycle(cfg, announced)
        self.daily_check = DailyCheck(cfg, last_daily_check)
        self.wall = None
        self.today = None
        self._bus_names = tuple(sorted(self.buses))
        self._masters = tuple(self.buses[name] for name in self._bus_names)
        self._check_measurands(profiles)
        self._check_alarm_budget(profiles)

    def _check_measurands(self, profiles):
        """Each detector's measurand is one its profile can measure: a CO2 detector on a combustible-gas
        map would read a %LEL number as ppm (or the other way round)."""
        problems = []
        for name in sorted(self.cfg["detectors"]):
            det = self.cfg["detectors"][name]
            measurand = _measurand(det)
            profile = profiles[det["profile"]]
            if measurand not in profile.measurands:
                problems.append(Problem(
                    "$.detectors.%s.measurand" % name,
                    N_("profile %(profile)s measures %(measurands)s, not %(measurand)s", profile=profile.name,
                       measurands=", ".join(profile.measurands), measurand=measurand),
                    N_("choose a profile for a %(measurand)s detector, or write the measurand the detector measures",
                       measurand=measurand)))
        if problems:
            raise ConfigError(problems)

    def _check_alarm_budget(self, profiles):
        """The config check again with what only the profiles tell: each one's minimum poll interval
        and the time its reads take on the wire."""
        on_bus = {}
        wire_ms = {}
        for name in sorted(self.cfg["detectors"]):
            det = self.cfg["detectors"][name]
            if det["kind"] == "modbus":
                profile = profiles[det["profile"]]
                interval = max(det["poll_interval_ms"], profile.min_poll_interval_ms)
                on_bus.setdefault(det["bus"], []).append(interval)
                master = self.buses[det["bus"]]
                wire_ms[det["bus"]] = max(wire_ms.get(det["bus"], 0), _poll_wire_ms(profile.reads, master))
        alarm = self.cfg["alarm"]
        for bus in sorted(on_bus):
            problem = bus_budget_problem(self.cfg["scan"]["period_ms"], len(on_bus[bus]), max(on_bus[bus]),
                                         alarm["confirm_samples"], alarm["confirm_window_ms"], wire_ms[bus])
            if problem:
                raise ConfigError([Problem(
                    "$.buses." + bus,
                    N_("with the detectors' profiles (minimum poll interval %(interval)d ms, %(wire)d ms per poll on "
                       "the wire) on this bus %(problem)s", interval=max(on_bus[bus]), wire=wire_ms[bus],
                       problem=problem),
                    N_("raise the bus's baud rate, lower alarm.confirm_samples or scan.period_ms, or split the "
                       "detectors over more buses"))])

    def step(self, now_ms, rx_by_bus=None, inputs=None, analog_ua=None, wall=None, today=None):
        """One scan: read -> evaluate -> outputs. Never blocks; returns a StepResult.

        rx_by_bus: bus -> bytes received since the last scan; inputs: logical line -> bool;
        analog_ua: channel -> loop current in µA (None when the ADC could not be read);
        wall: local (weekday 0=Monday, minute of day), or None when the clock is not set; today: the local
        date as a civil_date day number, or None (lifecycle reminders and the daily check need it).
        """
        self.wall = wall
        self.today = today
        inputs = inputs or {}
        analog_ua = analog_ua or {}
        samples = {}
        tx = self.service_buses(now_ms * 1000, rx_by_bus or {})
        for master in self._masters:
            for result in master.pop_results():
                if result.ok:
                    det_cfg = self.cfg["detectors"][result.tag]
                    samples[result.tag] = self.profiles[result.tag].decode(
                        result.blocks, det_cfg.get("gas", _NO_LEL_GAS), _measurand(det_cfg))
                else:
                    self.detectors[result.tag].note_comm_error(now_ms, result.detail)
        for name in sorted(self.detectors):
            kind = self.kinds[name]
            det_cfg = self.cfg["detectors"][name]
            if kind == "analog":
                current_ua = analog_ua.get(det_cfg["channel"])
                if current_ua is None:
                    self.detectors[name].note_comm_error(now_ms, "analog channel %s not read" % det_cfg["channel"])
                else:
                    measurand = _measurand(det_cfg)
                    full_scale = det_cfg["full_scale_" + C.MEASURAND_UNIT[measurand]]
                    samples[name] = self.profiles[name].decode_current(current_ua, full_scale, measurand)
            elif kind == "contact":
                fault_line = det_cfg.get("fault_line")
                alarm = inputs.get(det_cfg["line"])
                fault = inputs.get(fault_line) if fault_line else False
                if alarm is None or fault is None:
                    # A contact we could not read is no evidence of health: no sample, comm lost in time.
                    self.detectors[name].note_comm_error(now_ms, "input line %s not read" % (
                        det_cfg["line"] if alarm is None else fault_line))
                else:
                    samples[name] = self.profiles[name].decode_contact(bool(alarm), bool(fault))
        transitions = []
        for name in sorted(self.detectors):
            tr = self.detectors[name].update(now_ms, samples.get(name))
            if tr is not None:
                transitions.append(tr)
        outputs = self.output_tests.apply(now_ms, self.safety.evaluate(now_ms, self.detectors, transitions,
                                                                       inputs, wall, analog_ua))
        settled = self.reset_window.follow(now_ms, self.safety.reset_press)
        self.lifecycle.update(now_ms, today, self.log)
        self.daily_check.update(now_ms, today, self.minute(), self.log)
        return StepResult(tx, outputs, self.log.drain(), settled)

    def service_buses(self, now_us, rx_by_bus):
        """Between scans (and inside step()): every bus's received bytes to its master; returns bus ->
        bytes to write now (b"" for none). Replies become readings at the next step()."""
        tx = {}
        for i in range(len(self._masters)):
            name = self._bus_names[i]
            tx[name] = self._masters[i].service(now_us, rx_by_bus.get(name, b""))
        return tx

    def next_wakeup_us(self):
        """The earliest time (µs) a bus has something to do without new bytes, or None: when the
        platform must call service_buses() again at the latest."""
        wake = None
        for master in self._masters:
            t_us = master.next_wakeup_us()
            if t_us is not None and (wake is None or t_us < wake):
                wake = t_us
        return wake

    def awaiting_reply(self):
        """The buses with a request out and its reply not complete: the ports worth watching."""
        return [self._bus_names[i] for i in range(len(self._masters)) if self._masters[i].awaiting_reply]

    def minute(self):
        """The local minute of day of the last scan, or None when the clock is not set."""
        return self.wall[1] if isinstance(self.wall, (tuple, list)) and len(self.wall) == 2 else None

    def bus_stats(self):
        """Bus -> its master's counters (polls, replies, errors by kind)."""
        return dict((name, self.buses[name].stats()) for name in self._bus_names)

    def record(self, now_ms, type_, severity, source, state, value=None, reason=""):
        """An event the platform observed (shutdown, a serial port lost...), numbered with the core's.

        Returns the record; it is also returned by the next step(). Only shutdown, bus, command (e.g. a
        commissioning output test) and access events: never one that changes the safety state.
        """
        if type_ not in (E.SHUTDOWN, E.BUS, E.COMMAND, E.ACCESS):
            raise ValueError("the platform records only shutdown, bus, command and access events, not %r" % (type_,))
        return self.log.emit(now_ms, type_, severity, source, state, value, reason)

    def drain_events(self):
        """Records not yet returned by step() (e.g. the shutdown record after the last scan)."""
        return self.log.drain()

    def bus_error(self, now_ms, bus, detail):
        """The platform could not use a bus (port missing, OS error): every detector on it notes why."""
        for name in sorted(self.detectors):
            if self.kinds[name] == "modbus" and self.cfg["detectors"][name]["bus"] == bus:
                self.detectors[name].note_comm_error(now_ms, detail)

    def command(self, now_ms, name, args, source, channel=K.LOCAL):
        """One command from commands.COMMANDS, already authenticated by its channel; returns the reply dict.

        Refused (ok false, nothing changed) when the command is unknown, not taken from `channel`, not
        enabled by the config, or its args do not fit the table. None opens the valve.
        """
        why = K.refusal(name, channel, self.cfg["uplink"])
        if why:
            return K.reply(False, why)
        args = {} if args is None else args
        why = K.arg_refusal(name, args)
        if why:
            return K.reply(False, why)
        return K.COMMANDS[name].handler(self, now_ms, K.normalised_args(name, args), source)

    @property
    def latched(self):
        """True while the valve must stay closed until a local reset (every latch state but armed)."""
        return self.safety.latched

    def reset_blockers(self, now_ms):
        """Why a press of the RESET button would be refused now (empty: it would be accepted)."""
        return self.safety.reset_blockers(now_ms, self.detectors, self.safety.last_inputs())

    def readings(self):
        """Detector -> its latest concentration in hundredths of %LEL (None before the first reading, and
        always for a CO or CO2 detector: see readings_ppm)."""
        return dict((name, self.detectors[name].concentration_centi_pct_lel) for name in self.detectors)

    def readings_ppm(self):
        """CO and CO2 detector -> its latest concentration in hundredths of ppm (None before the first reading)."""
        return dict((name, det.concentration_centi_ppm) for name, det in self.detectors.items()
                    if det.measurand in C.TOXIC_MEASURANDS)

    def status(self, now_ms):
        """Every detector, output, interlock, inhibit and bus statistic, as plain data."""
        detectors = {}
        for name in sorted(self.detectors):
            det = self.detectors[name]
            detectors[name] = {
                "state": det.state,
                "since_ms": det.since_ms,
                "reason": det.reason,
                "measurand": det.measurand,
                "concentration_centi_pct_lel": det.concentration_centi_pct_lel,
                "concentration_centi_ppm": det.concentration_centi_ppm,
                "device_status": det.device_status,
                "last_sample_age_ms": now_ms - det.last_sample_ms,
                "inhibited": name in self.safety.inhibits,
                "blind": det.blind,
                "distrust": det.distrust(),
                "unstable": det.unstable,
                "reads_clear": det.reads_clear(),
                "clear_hold_remaining_ms": det.hold_remaining_ms(now_ms),
                "link": {"polls": det.polls_seen(), "failed": det.failed_polls(),
                         "stale_after_ms": det.settings.stale_after_ms},
            }
        out = self.safety.status(now_ms)
        out["reset_blockers"] = self.reset_blockers(now_ms)
        out["config"] = {"identity": self.config_identity, "short": short_identity(self.config_identity),
                         "version": self.config_version}
        out["self_test"] = {"summary": self.self_test_summary, "faults": out.pop("self_test_faults")}
        out["detectors"] = detectors
        out["buses"] = self.bus_stats()
        out["now_ms"] = now_ms
        out["recent_events"] = [dict((key, record[key]) for key in RECENT_FIELDS) for record in self.log.recent]
        out["maintenance"] = self.lifecycle.status()
        out["daily_check"] = self.daily_check.status(self.today, self.minute())
        schedule = self.safety.schedule
        out["schedule_change_min"] = None if schedule is None else schedule.minutes_to_change(self.wall)
        return out


# A CO or CO2 detector has no `gas` (config.py refuses it): its profile decodes ppm, which needs no LEL.
_NO_LEL_GAS = "methane"


def _measurand(det_cfg):
    return det_cfg.get("measurand", C.MEASURAND_COMBUSTIBLE)


def _poll_wire_ms(reads, master):
    """A poll's time on the bus in whole ms, rounded up: per read the request (8 bytes), the slave's
    3.5-character frame detection, the reply (5 + 2 per register) and the master's gap before the next."""
    total_us = 0
    for function, address, count in reads:
        total_us += (8 + 5 + 2 * count) * master.char_time_us + 2 * master.silent_us
    return (total_us + 999) // 1000
