"""`gaslatch run`: the kitchen unit — the safety core wired to the real world, one scan at a time.

The imperative shell around the sans-I/O controller: it reads the buses, lines and ADC, applies
local commands, steps the controller, writes bytes and lines, hands events to the store and kicks
the watchdogs, on absolute deadlines; everything slow lives in other threads.
"""

import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable

from gaslatch.core import commands as K
from gaslatch.core import events as E
from gaslatch.core.config import ConfigError
from gaslatch.core.controller import Controller
from gaslatch.core.safety import OUT_VALVE, safe_outputs
from gaslatch.core.scan_loop import RealClock, ScanLoop
from gaslatch.unit.adc_ads1115 import AdcError, open_adc
from gaslatch.unit.bus_pump import BusPump
from gaslatch.unit.control_socket import ControlError, ControlServer
from gaslatch.unit.event_log import EventLogger
from gaslatch.unit.event_store import EventStore, StoreError, UnavailableStore
from gaslatch.unit.gpio_lines import GpioError, open_lines
from gaslatch.unit.manifest import self_test
from gaslatch.unit.realtime import enter_realtime
from gaslatch.unit.refusal_digest import RefusalDigest
from gaslatch.unit.serial_bus import SerialBus
from gaslatch.unit.remembered import remembered
from gaslatch.unit.wall_clock import WallClock
from gaslatch.unit.watchdog import HardwareWatchdog, SystemdNotifier, WatchdogError

class StartError(Exception):
    """The unit cannot start (store, GPIO, ADC, socket or watchdog unusable): the message says why."""


# Every this many scans all outputs are written again, whatever the cache says.
REFRESH_OUTPUTS_SCANS = 50
# Every this many scans the platform's state slot is refreshed (the uplink publishes on change).
UPLINK_STATE_SCANS = 10

# A stop must end inside systemd's TimeoutStopSec=10 (deploy/gaslatch.service) even when the store or the
# uplink cannot finish: every wait of shutdown() shares this budget (the journal's close gets at most 2 s more).
STOP_BUDGET_S = 7.0
STOP_FLUSH_MAX_S = 4.0
STOP_CLOSE_MIN_S = 0.5


class Runtime:
    """One kitchen unit: build it, `run()` it, and it stops cleanly on SIGTERM/SIGINT."""

    def __init__(self, cfg: dict, profiles: dict, clock=None, wall: WallClock | None = None,
                 log_stream=None):
        self.cfg = cfg
        self.clock = clock or RealClock()
        self.wall = wall or WallClock()
        self.stop_reason = ""
        self.stop_by_signal = False
        signal.signal(signal.SIGTERM, self._on_signal)  # before anything is opened: a stop during start-up
        signal.signal(signal.SIGINT, self._on_signal)   # still ends in shutdown(), outputs safe
        self.log = EventLogger(cfg["log"]["level"], log_stream or sys.stdout)
        self._opened: list = []
        try:
            self._instance_lock = self._open(InstanceLock(cfg["control"]["socket"] + ".lock"), "close")
            # The GPIO first: its outputs start in the safe state before anything else happens.
            self.lines = self._open(open_lines(cfg), "close")
            self.store = self._open(self._open_store(cfg), "close")
            # The self-test before the controller: what it finds holds the gas off for the whole run.
            self.self_test = self_test(cfg)
            for fault in self.self_test.faults:
                self.log.error("self-test failed, the gas stays off: %s" % fault)
            start_ms = self.clock.now_us() // 1000
            announced, last_check = remembered(self.store)
            self.controller = Controller(cfg, profiles, start_ms, first_seq=self.store.next_seq(),
                                         self_test_faults=self.self_test.faults,
                                         self_test_summary=self.self_test.summary,
                                         announced=announced, last_daily_check=last_check)
            self.buses = {name: self._open(SerialBus(name, bus_cfg, now_ms=self._now_ms,
                                                     set_de=self._de_setter(bus_cfg)), "close")
                          for name, bus_cfg in sorted(cfg["buses"].items())}
            self.adc = self._open(open_adc(cfg), "close") if _uses_analog(cfg) else None
            self.control = self._open(ControlServer(cfg["control"]["socket"], cfg["control"]["group"]), "close")
            self.control.start()
            if self.control.warning:
                self.log.info(self.control.warning)
            self.hw_watchdog = HardwareWatchdog(cfg["watchdog"]["device"], cfg["watchdog"]["timeout_s"])
            self.uplink = self._open_uplink(cfg)
        except (GpioError, AdcError, ControlError, WatchdogError, ConfigError, StartError, OSError) as err:
            for thing, close in reversed(self._opened):
                getattr(thing, close)()
            self.log.error("cannot start: %s" % err)
            self.log.close()
            failure = StartError(str(err))
            failure.problems = getattr(err, "problems", None)  # a ConfigError's, shown in the reader's language
            raise failure from None
        self.notifier = SystemdNotifier()
        self.pump = BusPump(self.clock, self.buses, self.controller)
        self.loop = ScanLoop(cfg["scan"]["period_ms"], self.clock, self.scan, kick_watchdog=self._kick,
                             on_error=self._on_error, idle=self.pump.idle_until)
        self.inputs: dict = {}
        self.outputs: dict = {}
        self.reset_waiters: dict = {}  # reset window ticket -> push of the client waiting for the button
        self._ready = False
        self._scans = 0
        self.refusals = RefusalDigest("platform commands")

    def _open_store(self, cfg: dict):
        """The event store; if it cannot be opened the kitchen is still protected and events go to the journal."""
        try:
            return EventStore(cfg["store"]["path"], cfg["store"]["max_events"], unit=cfg["unit"]["name"],
                              wall_ts=self.wall.iso_utc, clock_synced=self.wall.synced)
        except StoreError as err:
            self.log.error("event store unavailable, running without it (events go to the journal only): %s" % err)
            return UnavailableStore(err)

    def _open_uplink(self, cfg: dict):
        """The MQTT uplink, if enabled; a unit that cannot reach its platform still protects the kitchen."""
        if not cfg["uplink"]["enabled"]:
            return None
        # Loaded only when configured: paho-mqtt and ssl are about 10 MiB of a unit's memory (docs/benchmarks.md).
        from gaslatch.unit.replay_ids import replay_file_for
        from gaslatch.unit.uplink import Uplink, UplinkError

        try:
            uplink = Uplink(cfg["uplink"], self.store, cfg["unit"]["site"], cfg["unit"]["name"],
                            clock_synced=self.wall.synced, replay_file=replay_file_for(cfg["store"]["path"]))
            uplink.start()
        except (UplinkError, ValueError) as err:
            self.log.error("uplink disabled: %s" % err)
            return None
        return self._open(uplink, "close")

    def _open(self, thing, close: str):
        self._opened.append((thing, close))
        return thing

    def _now_ms(self) -> int:
        return self.clock.now_us() // 1000

    def _de_setter(self, bus_cfg: dict) -> Callable[[bool], None] | None:
        if bus_cfg["direction"] != "gpio":
            return None
        line = bus_cfg["de_line"]
        return lambda level: self.lines.write_outputs({line: level})

    # ---- the scan ----

    def scan(self, now_ms: int) -> None:
        """Read -> commands -> evaluate -> write -> housekeeping. Nothing here waits on I/O."""
        self.pump.service(self.clock.now_us())  # bytes to the masters, stamped when they were read
        for name, bus in self.buses.items():
            for state, detail in bus.state_changes():
                self._bus_event(now_ms, name, state, detail)
            if bus.error:
                self.controller.bus_error(now_ms, name, bus.error)
        self.inputs = self.lines.read_inputs(now_ms)
        analog = self.adc.latest() if self.adc is not None else None
        self.control.service(now_ms, self._handle)
        if self.uplink is not None:
            self._platform_commands(now_ms)
        local, today = self.wall.reading()
        result = self.controller.step(now_ms, None, self.inputs, analog, local, today)
        try:
            for name, bus in self.buses.items():
                data = result.tx.get(name)
                if data:
                    bus.write(data)
            self.outputs = result.outputs
            self._scans += 1
            if self._scans % REFRESH_OUTPUTS_SCANS == 0:
                self.lines.refresh()
            self.lines.write_outputs(self.outputs)
        finally:
            self._record(result.events)  # what the core decided is recorded even if an adapter failed
        for ticket, outcome in result.settled:
            push = self.reset_waiters.pop(ticket, None)
            if push is not None:
                push(outcome)
        if self.uplink is not None and self._scans % UPLINK_STATE_SCANS == 0:
            self.uplink.publish_state(self._platform_state(now_ms))
            self.uplink.publish_telemetry(self._platform_readings(now_ms))
            for level, text in self.uplink.take_reports():
                (self.log.error if level == "error" else self.log.info)("uplink: %s" % text)

    def _platform_commands(self, now_ms: int) -> None:
        """Authenticated platform commands: only ones that make the kitchen safer or ask; refusals recorded
        in digests (refusal_digest.py)."""
        self._take_refusals(now_ms)
        self._record_refusals(now_ms, self.refusals.due(now_ms))
        for command in self.uplink.take_commands():
            reply = self.controller.command(now_ms, command["cmd"], command["args"], "platform", K.REMOTE)
            if "status" in reply:
                message = self.uplink.state_text(self._platform_state(now_ms, reply["status"]))
            else:
                message = reply.get("message") or reply.get("error", "")
            self.uplink.reply(command["id"], reply["ok"], message)

    def _take_refusals(self, now_ms: int) -> None:
        for _id, cmd, reason, code, count in self.uplink.take_refusals():
            text = "%s refused (%s): %s" % (cmd or "command", code, reason)
            self._record_refusals(now_ms, self.refusals.refused(now_ms, code, text, count))

    def _record_refusals(self, now_ms: int, digests: list) -> None:
        for count, text in digests:
            self.controller.record(now_ms, E.COMMAND, E.SEVERITY_WARNING, "platform", "refused", count, text)

    def _platform_state(self, now_ms: int, status: dict | None = None) -> dict:
        """The retained state (uplink_wire.encode_state): latch, outputs, interlocks, inhibits, silence,
        schedule and every detector's state and reading; from `status` when the caller has it already."""
        if status is None:
            status = self.controller.status(now_ms)
        return {
            "latched": status["latched"],
            "trip_reason": status["trip_reason"],
            "valve_fault": status["valve_fault"],
            "outputs": dict((line, bool(level)) for line, level in self.outputs.items()),
            "interlocks": status["interlocks"],
            "inhibits": status["inhibits"],
            "silenced_s": status["silenced_s"],
            "schedule": status["schedule"],
            "detectors": dict((name, _state_detector(det)) for name, det in status["detectors"].items()),
            "clock_synced": self.wall.synced(),
            "config": {"identity": status["config"]["identity"], "version": status["config"]["version"]},
        }

    def _platform_readings(self, now_ms: int) -> dict:
        """The telemetry (uplink_wire.encode_telemetry): every detector's latest reading, with both clocks."""
        return {"ts": self.wall.iso_utc(), "t_ms": now_ms, "clock_synced": self.wall.synced(),
                "centi_pct_lel": self.controller.readings(), "centi_ppm": self.controller.readings_ppm()}

    def _record(self, events: list) -> None:
        if events:
            self.store.append(events)
            for record in events:
                self.log.event(record)

    def _bus_event(self, now_ms: int, bus: str, state: str, detail: str) -> None:
        severity = E.SEVERITY_FAULT if state == "lost" else E.SEVERITY_INFO
        self.controller.record(now_ms, E.BUS, severity, bus, state, None, detail)

    def _kick(self) -> None:
        self.hw_watchdog.kick()
        self.notifier.watchdog()
        if not self._ready:
            self._ready = True
            self.notifier.ready()
            self.log.info("first scan complete: ready")

    def _on_error(self, exc: BaseException) -> None:
        """An exception inside a scan: outputs to their safe state; the watchdog is not kicked again."""
        if not isinstance(exc, KeyboardInterrupt):
            self.log.error("internal error in the scan, making outputs safe: %r" % (exc,))
        self._write_safe_outputs()

    def _write_safe_outputs(self) -> None:
        """Never raises: the valve first and on its own, then every other line in its own attempt."""
        valve_type = self.cfg["valve"]["type"]
        safe = safe_outputs(valve_type)
        self.lines.refresh()
        for name in [OUT_VALVE] + sorted(n for n in safe if n != OUT_VALVE):
            try:
                self.lines.write_outputs({name: safe[name]})
            except Exception as exc:  # a broken line must not stop the others, least of all the valve
                self.log.error("could not set %s to its safe state: %r" % (name, exc))
        if valve_type == "pulse":
            time.sleep(self.cfg["valve"]["pulse_ms"] / 1000)  # only on the way out: the loop has stopped
            try:
                self.lines.write_outputs({OUT_VALVE: False})
            except Exception as exc:
                self.log.error("could not end the valve's closing pulse: %r" % (exc,))

    # ---- local control (called in the scan thread by control.service) ----

    def _handle(self, request, now_ms: int) -> dict:
        """A local command through the core's table; the status gets the unit's own sections, and a reset
        waiting for the button is followed until the core settles it (StepResult.settled)."""
        reply = self.controller.command(now_ms, request.cmd, request.args, request.source, K.LOCAL)
        if "status" in reply:
            reply["status"] = self.status(now_ms, reply["status"])
        ticket = reply.pop("ticket", None)
        if ticket is not None:
            self.reset_waiters[ticket] = request.push
        return reply

    def status(self, now_ms: int, core: dict | None = None) -> dict:
        """The controller's status (`core`, or asked now) with the unit's: scan, ports, store, clock, lines, uplink."""
        out = core if core is not None else self.controller.status(now_ms)
        out["scan"] = self.loop.stats.as_dict()
        out["ports"] = {name: {"error": bus.error} for name, bus in self.buses.items()}
        out["store"] = self.store.health()
        out["clock_synced"] = self.wall.synced()
        out["outputs"] = dict(self.outputs)
        out["inputs"] = dict(self.inputs)  # debounced line levels: valve switches, airflow, buttons, contacts
        out["uplink"] = self.uplink.health() if self.uplink is not None else None
        return out

    # ---- lifecycle ----

    def run(self) -> int:
        """Until SIGTERM/SIGINT: returns the process exit code."""
        self.log.debug("scheduling: %s" % enter_realtime())
        self.log.info("gaslatch running: %d detectors, %d buses, scan %d ms; config %s version %d; self-test %s "
                      "(%.1f ms)" % (len(self.cfg["detectors"]), len(self.buses), self.cfg["scan"]["period_ms"],
                                     self.controller.config_identity, self.controller.config_version,
                                     self.controller.self_test_summary, self.self_test.elapsed_ms))
        code = 0
        try:
            self.loop.run(should_stop=lambda: bool(self.stop_reason))
        except Exception as exc:  # _on_error already made the outputs safe
            self.stop_reason = "internal error: %r" % (exc,)
            code = 1
        self.shutdown(self.stop_reason or "stopped")
        return code

    def _on_signal(self, signum, _frame) -> None:
        self.stop_by_signal = True
        self.stop_reason = "signal %s" % signal.Signals(signum).name

    def shutdown(self, reason: str) -> None:
        """Outputs safe first, then the record, then the store flushed and everything closed.

        Each step is attempted whatever the one before did. The hardware watchdog is disarmed only on a
        clean stop by signal; after an internal error it is left running, so a hang still resets the Pi.
        """
        self.notifier.stopping()
        self._write_safe_outputs()
        now_ms = self._now_ms()
        deadline = time.monotonic() + STOP_BUDGET_S

        def left(keep_s: float) -> float:
            """Seconds a step may wait, keeping keep_s of the budget for the steps after it."""
            return max(STOP_CLOSE_MIN_S, deadline - keep_s - time.monotonic())

        steps = ([lambda: self._take_refusals(now_ms)] if self.uplink is not None else []) + [
            lambda: self._record_refusals(now_ms, self.refusals.flush()),
            lambda: self.controller.record(now_ms, E.SHUTDOWN, E.SEVERITY_WARNING, "controller", "stopped", None,
                                           "%s: outputs safe, valve closed" % reason),
            lambda: self._record(self.controller.drain_events()),
            lambda: self.store.flush(min(STOP_FLUSH_MAX_S, left(2 * STOP_CLOSE_MIN_S))),
            self.control.close,
        ] + ([lambda: self.uplink.close(left(STOP_CLOSE_MIN_S))] if self.uplink is not None else []) + [bus.close for bus in self.buses.values()] + ([self.adc.close] if self.adc is not None else []) + [
            self.lines.close,
            lambda: self.store.close(left(0.0)),
            lambda: self.hw_watchdog.close(disarm=self.stop_by_signal),
            self._instance_lock.close,
        ]
        for step in steps:
            try:
                step()
            except Exception as exc:
                self.log.error("during shutdown: %r" % (exc,))
        self.log.info("stopped: %s" % reason)
        self.log.close()


class InstanceLock:
    """One controller per unit: a second `gaslatch run` would fight the first over the same outputs."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise StartError("another gaslatch run already controls this unit (lock %s held); stop it first "
                             "(systemctl stop gaslatch)" % path) from None

    def close(self) -> None:
        os.close(self.fd)


def _uses_analog(cfg: dict) -> bool:
    return cfg["proving"]["mode"] == "transmitter" or any(det["kind"] == "analog" for det in cfg["detectors"].values())


def _state_detector(det: dict) -> dict:
    """A detector as the retained state carries it: its state and reading, a CO or CO2 detector's in ppm."""
    entry = {"state": det["state"], "centi_pct_lel": det["concentration_centi_pct_lel"]}
    if det["measurand"] != "combustible":
        entry["centi_ppm"] = det["concentration_centi_ppm"]
    return entry
