"""`gaslatch bench run`: one scenario against the real controller process and an emulated kitchen.

It starts the emulated buses and detectors, the kitchen I/O, a broker and the platform receiver when
the scenario reports, and `gaslatch run`; plays the timeline on the scenario clock; records the trace;
judges the expectations; and leaves the report folder behind.
"""

from __future__ import annotations

import grp
import json
import os
import random
import shutil
import tempfile
import threading
import time
from typing import Any, Callable, NamedTuple

from gaslatch.translation import _
from gaslatch.unit.control_client import ControlClient, ControlUnreachable
from gaslatch.unit.event_store import EventReader
from gaslatch_tools.bench import scenario as S
from gaslatch_tools.testing.broker import Broker
from gaslatch_tools.testing.controller_process import ControllerProcess
from gaslatch_tools.bench.emulated_bus import EmulatedBus
from gaslatch_tools.bench.emulated_detector import EmulatedDetector
from gaslatch_tools.bench.expectations import VALVE_POSITION, Outcome, evaluate
from gaslatch_tools.bench.gas_model import GasModel
from gaslatch_tools.bench.kitchen_io import KitchenIO
from gaslatch_tools.bench.trace import Trace, merge_events
from gaslatch_tools.bench.words import action_text

SAMPLE_S = 0.01  # the recorder's period: gas, valve position, fan
READY_TIMEOUT_S = 20.0
DELIVERY_WAIT_S = 20.0
DEFAULT_HOLD_S = 0.5
DEFAULT_RESTART_AFTER_S = 2.0


class BenchError(Exception):
    """The bench itself could not run the scenario (not a failed expectation): the message says why."""


class BenchResult(NamedTuple):
    name: str
    passed: bool
    outcomes: list[Outcome]
    problems: list[str]  # bench-level problems (arming failed, an action could not be done)
    trace: Trace
    scenario: dict
    config: dict
    gases: dict
    out_dir: str
    wall_s: float


class BenchRun:
    """One run of one scenario; `run()` returns a BenchResult and writes nothing but out_dir."""

    def __init__(self, scenario: dict, out_dir: str, source: str = "scenario",
                 progress: Callable[[str], None] | None = None):
        self.scenario = scenario
        self.source = source
        self.out_dir = out_dir
        self.progress = progress or (lambda text: None)
        self.trace = Trace()
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._workdir = tempfile.mkdtemp(prefix="glb-", dir="/tmp")  # short: UNIX socket paths
        self._cleanup: list[Callable[[], Any]] = []
        self.t0 = 0.0

    # ---- the clock ----

    def now(self) -> float:
        """Scenario time in seconds (negative while the kitchen is being armed)."""
        return time.monotonic() - self.t0

    def _wait_until(self, t_s: float) -> bool:
        """Waits for scenario time t_s; False if the run is being stopped."""
        while not self._stop.is_set():
            remaining = t_s - self.now()
            if remaining <= 0:
                return True
            self._stop.wait(min(remaining, 0.5))
        return False

    # ---- the run ----

    def run(self) -> BenchResult:
        started = time.monotonic()
        if os.path.isdir(self.out_dir):
            shutil.rmtree(self.out_dir)  # a report folder holds one run, never pieces of two
        os.makedirs(self.out_dir)
        sc = self.scenario
        lead_s = S.ARMING_S if sc["start"] == "armed" else 0.5
        self.t0 = time.monotonic() + lead_s
        try:
            self._build()
            self._start_controller()
            if sc["start"] == "armed":
                self._arm()
            recorder = threading.Thread(target=self._record_loop, name="bench-recorder", daemon=True)
            recorder.start()
            self._play_timeline()
            self._wait_until(sc["duration_s"])
            self._finish_delivery()
            self._stop.set()
            recorder.join(2)
        except BenchError as err:
            self.problems.append(str(err))
        finally:
            self._stop.set()
            self._teardown()
        self._collect()
        gases = self.gases if hasattr(self, "gases") else {}
        outcomes = [] if self.problems and not self.trace.events else [
            evaluate(e, self.trace, gases, sc["duration_s"]) for e in sc["expect"]]
        passed = not self.problems and bool(outcomes) and all(o.passed for o in outcomes)
        shutil.rmtree(self._workdir, ignore_errors=True)
        return BenchResult(sc["name"], passed, outcomes, self.problems, self.trace, sc,
                           getattr(self, "config", {}), gases, self.out_dir, time.monotonic() - started)

    def _build(self) -> None:
        sc = self.scenario
        self.gases: dict[str, GasModel] = {}
        self.detectors: dict[str, EmulatedDetector] = {}
        self.buses: dict[str, EmulatedBus] = {}
        ports = {}
        for name, bus in sorted(sc["buses"].items()):
            link = os.path.join(self._workdir, "tty-" + name)
            ports[name] = link
            self.buses[name] = EmulatedBus(link, bus["baud"], bus["parity"], bus["stop_bits"], bus["turnaround_ms"],
                                           clock=self.now, seed=sc["seed"])
        for name, det in sorted(sc["detectors"].items()):
            try:
                gas = GasModel.from_spec(det["gas"], "detectors.%s.gas" % name)
                emulated = EmulatedDetector(det["profile"], det["address"], gas, clock=self.now,
                                            baud=sc["buses"][det["bus"]]["baud"],
                                            parity=sc["buses"][det["bus"]]["parity"],
                                            stop_bits=sc["buses"][det["bus"]]["stop_bits"],
                                            warmup_s=det["warmup_s"],
                                            full_scale_pct_lel=det.get("full_scale_ppm", det["full_scale_pct_lel"]),
                                            gas_name=det["config"].get("gas", "methane"), measurand=det["measurand"])
            except ValueError as err:
                raise BenchError(_("%(scenario)s: detector %(detector)s: %(error)s") % {
                    "scenario": self.source, "detector": name, "error": err}) from None
            self.gases[name] = gas
            self.detectors[name] = emulated
            self.buses[det["bus"]].add(emulated)
        for bus in self.buses.values():
            bus.start()
            self._cleanup.append(bus.close)
        uplink = None
        self.broker = None
        self.receiver = None
        if sc["uplink"]:
            uplink = self._start_platform()
        self.control_socket = os.path.join(self._workdir, "control.sock")
        group = grp.getgrgid(os.getgid()).gr_name
        doc = S.controller_document(sc, self._workdir, ports, self.control_socket, group, uplink)
        self.config = S.controller_config(doc, self.source)
        self.config_path = os.path.join(self.out_dir, "controller.json")
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        self.kitchen = KitchenIO.from_config(self.config, valve_travel_s=sc["kitchen"].get("valve_travel_s"),
                                             fan_spin_up_s=sc["kitchen"].get("fan_spin_up_s"), t0_s=self.t0)
        self.kitchen.start()
        self._cleanup.append(self.kitchen.close)

    def _start_platform(self) -> dict:
        from gaslatch_tools.platform.receiver import PlatformReceiver, SqliteStorage

        self.broker = Broker()
        self._cleanup.append(self.broker.close)
        self.broker.start()
        db_path = os.path.join(self.out_dir, "platform.db")
        self.receiver = PlatformReceiver(SqliteStorage(db_path), port=self.broker.port)
        self.receiver.start()
        self._cleanup.append(self.receiver.stop)
        key_file = os.path.join(self._workdir, "uplink.key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode())
        os.close(fd)
        return {"enabled": True, "host": "127.0.0.1", "port": self.broker.port, "tls": False,
                "hmac_key_file": key_file, "keepalive_s": 5, "backoff_max_s": 5, "telemetry_s": 5, "state_s": 10}

    def _start_controller(self) -> None:
        env = {}
        local = self.scenario.get("local_time_at_start")
        if local:
            env["TZ"] = _tz_for_local_time(local, self.t0)
        self.controller = ControllerProcess(self.config_path, os.path.join(self.out_dir, "journal.log"), env)
        self._cleanup.append(self.controller.close)
        if self.scenario["start"] == "power_on":
            self._wait_until(0.0)
        self.progress(_("starting gaslatch-unit run"))
        self.controller.start()
        try:
            self.controller.wait_ready(READY_TIMEOUT_S)
        except Exception as err:
            raise BenchError(_("the controller did not start: %s") % err) from None

    def _arm(self) -> None:
        """Every detector normal, then the reset press that opens the valve, all before t=0."""
        self.progress(_("arming: waiting for every detector, then pressing reset"))
        deadline = -0.5
        proving = self.config["fan"]["proving"]
        while self.now() < deadline:
            status = self._status()
            if (status and all(d["state"] == "normal" for d in status["detectors"].values())
                    and (not proving or self.kitchen.fan.proven)):
                break
            self._stop.wait(0.05)
        else:
            states = {n: d["state"] for n, d in (self._status() or {"detectors": {}})["detectors"].items()}
            raise BenchError((_("arming: the detectors were not all normal and the fan proven before t=0: %s")
                              if proving else _("arming: the detectors were not all normal before t=0: %s")) % states)
        self.kitchen.press("reset_button", hold_s=DEFAULT_HOLD_S)
        while self.now() < deadline + 0.4:
            if self.kitchen.snapshot().get("valve"):
                return
            self._stop.wait(0.02)
        raise BenchError(_("arming: the valve did not open after the reset press (journal: %s)")
                         % " | ".join(self.controller.journal_lines()[-3:]))

    def _status(self) -> dict | None:
        try:
            with ControlClient(self.control_socket, timeout_s=2.0) as client:
                reply = client.request("status")
        except (ControlUnreachable, OSError, ValueError):
            return None
        return reply.get("status") if reply.get("ok") else None

    def _record_loop(self) -> None:
        next_t = self.now()
        while not self._stop.is_set():
            t_s = self.now()
            for name, gas in self.gases.items():
                self.trace.record(t_s, "gas:" + name, round(gas.sensed_pct(t_s), 2))
            self.trace.record(t_s, VALVE_POSITION, round(self.kitchen.valve.position, 3))
            self.trace.record(t_s, "fan_airflow", bool(self.kitchen.fan.proven))
            next_t += SAMPLE_S
            self._stop.wait(max(0.0, next_t - self.now()))

    def _play_timeline(self) -> None:
        rng = random.Random(self.scenario["seed"])
        queue = sorted(((a["at_s"] + rng.uniform(0.0, a.get("random_within_s", 0.0)), i, a)
                        for i, a in enumerate(self.scenario["timeline"])), key=lambda x: x[:2])
        serial = len(queue)
        while queue:
            at_s, _serial, action = queue.pop(0)
            if not self._wait_until(at_s):
                return
            follow_up = self._do(action)
            if follow_up is not None:
                serial += 1
                queue.append((follow_up["at_s"], serial, follow_up))
                queue.sort(key=lambda x: x[:2])

    def _do(self, action: dict) -> dict | None:
        """Carries out one timeline action and records it; returns a follow-up action (a restart).

        The action is recorded at the time it took effect where the bench can tell (a wired line written, a
        kitchen model changed: the kitchen's own time of it), else at the time the bench set out to do it; the
        expectations time the controller from it, so no wait of the bench's own (for a lock, for a CPU on a
        loaded machine) between the two is counted as the controller's. asked_s keeps the time it set out.
        """
        t_s = asked_s = self.now()
        do = action["do"]
        follow_up = None
        ok, detail = True, ""
        kitchen = getattr(self, "kitchen", None)
        try:
            if do == "press":
                t_s = self._kitchen_s(kitchen.press(action["line"], hold_s=action.get("hold_s", DEFAULT_HOLD_S)))
            elif do == "input":
                t_s = self._kitchen_s(kitchen.set_input(action["line"], action["active"]))
            elif do == "cut_wire":
                t_s = self._kitchen_s(kitchen.cut_wire(action["line"]))
            elif do == "mend_wire":
                t_s = self._kitchen_s(kitchen.mend_wire(action["line"]))
            elif do == "detector_fault":
                self._detector_fault(action)
            elif do == "bus_fault":
                det = self.scenario["detectors"][action["detector"]]
                params = {k: action[k] for k in ("delay_ms", "code", "n_bytes", "after", "reply_address", "loss_pct")
                          if k in action}
                self.buses[det["bus"]].inject(det["address"], action["fault"], action.get("count"), **params)
            elif do == "bus_clear":
                det = self.scenario["detectors"][action["detector"]]
                self.buses[det["bus"]].clear(det["address"])
            elif do == "noise":
                self.buses[action["bus"]].inject_noise(action["n_bytes"])
            elif do == "port":
                bus = self.buses[action["bus"]]
                bus.vanish() if action["state"] == "vanish" else bus.restore()
            elif do in ("valve_fault", "fan_fault", "pipe_fault"):
                model = {"valve_fault": kitchen.valve, "fan_fault": kitchen.fan, "pipe_fault": kitchen.pipe}[do]
                change = model.inject if action.get("on", True) else model.clear
                _none, at = kitchen.at_once(lambda: change(action["fault"]))
                t_s = self._kitchen_s(at)
            elif do == "valve_manual_open":
                ok, at = kitchen.at_once(kitchen.valve.manual_open)
                t_s = self._kitchen_s(at)
                detail = "re-latched" if ok else "refused (coil energised or not latched)"
            elif do == "vent":
                t_s = self._kitchen_s(kitchen.at_once(kitchen.pipe.vent)[1])
            elif do == "power_cut":
                self.controller.power_cut()
                self.kitchen.power(False)
                follow_up = {"do": "_power_back", "at_s": t_s + action.get("restart_after_s", DEFAULT_RESTART_AFTER_S),
                             "detectors_too": action.get("detectors_too", False)}
            elif do == "_power_back":
                self.kitchen.power(True)
                if action["detectors_too"]:
                    for det in self.detectors.values():
                        det.power_cycle(self.now())
                self.controller.start()
                detail = "controller started (run %d)" % self.controller.runs
            elif do == "broker":
                assert self.broker is not None
                self.broker.stop() if action["state"] == "down" else self.broker.start()
            elif do == "command":
                with ControlClient(self.control_socket, timeout_s=3.0) as client:
                    t_s = self.now()  # connected: what follows is the request and the controller's answer
                    reply = client.request(action["cmd"], action.get("args") or {})
                ok = bool(reply.get("ok"))
                detail = json.dumps({k: v for k, v in reply.items() if k != "status"}, sort_keys=True)[:300]
        except Exception as err:  # a bench action that could not be done is a bench problem, reported
            ok, detail = False, "%s: %s" % (type(err).__name__, err)
            if do != "command":
                self.problems.append(_("t=%(t).2f s %(action)s could not be done: %(error)s") % {
                    "t": t_s, "action": do, "error": detail})
        record = {"t_s": t_s, "asked_s": asked_s, "do": do, "ok": ok, "detail": detail}
        if "label" in action:
            record["label"] = action["label"]
        self.trace.actions.append(record)
        self.progress("t=%6.2f s  %s %s" % (t_s, action_text(dict(record, ok=True)), detail))
        return follow_up

    def _kitchen_s(self, clock_s: float) -> float:
        """A time of the kitchen's clock (time.monotonic, as now()) in scenario time."""
        return clock_s - self.t0

    def _detector_fault(self, action: dict) -> None:
        faults = self.detectors[action["detector"]].faults
        on = action.get("on", True)
        fault = action["fault"]
        if fault == "status":
            faults.forced_status = action.get("status") if on else None
        elif fault == "flapping_status":
            faults.flapping_status = action.get("status") if on else None
        elif fault == "exception":
            faults.modbus_exception = action.get("code", 4) if on else None
        else:
            setattr(faults, fault, on)

    def _finish_delivery(self) -> None:
        """With an uplink: until the platform has every event the unit stored (or DELIVERY_WAIT_S)."""
        if self.receiver is None:
            return
        if self.broker is not None and not self.broker.running:
            self.broker.start()
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while time.monotonic() < deadline:
            stored = self._stored()
            delivered = self._delivered()
            if stored and {(e["seq"], e["id"]) for e in stored} <= {(e["seq"], e["id"]) for e in delivered}:
                break
            time.sleep(0.1)  # polling two databases for the last deliveries
        self.trace.stored = self._stored()

    def _stored(self) -> list[dict]:
        try:
            return [dict(row) for row in EventReader(self.config["store"]["path"]).query()]
        except Exception:  # not created yet, or being created
            return []

    def _delivered(self) -> list[dict]:
        from gaslatch_tools.platform.receiver import CSV_COLUMNS

        assert self.receiver is not None
        offset = time.time() - time.monotonic() + self.t0  # wall clock of scenario time 0
        out = []
        for row in self.receiver.storage.iter_events():
            event = dict(zip(CSV_COLUMNS, row))
            if event["unit"] != self.scenario["name"]:
                continue
            event["t_s"] = _iso_to_epoch(event["received_at"]) - offset
            out.append(event)
        return out

    def _teardown(self) -> None:
        if hasattr(self, "controller") and self.controller.running:
            try:
                self.controller.stop()
            except Exception as err:
                self.problems.append(_("the controller did not stop cleanly: %s") % err)
        for close in reversed(self._cleanup):
            try:
                close()
            except Exception as err:
                self.problems.append(_("closing the bench: %r") % (err,))

    def _collect(self) -> None:
        if hasattr(self, "controller"):
            runs = [self.controller.journal_lines(run) for run in range(self.controller.runs)]
            self.trace.events = merge_events(runs, self.t0)
        if hasattr(self, "kitchen"):
            for change in self.kitchen.trace():
                self.trace.record(change.t_s, "line:" + change.line, change.level)
        if self.receiver is not None:
            self.trace.delivered = self._delivered()


def _iso_to_epoch(text: str) -> float:
    import calendar

    main, _dot, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


def _tz_for_local_time(local: str, t0_monotonic: float) -> str:
    """A POSIX TZ whose local time is `local` ("ddd HH:MM:SS", the day ignored) at scenario time 0."""
    hh, mm, ss = (int(part) for part in local.split()[1].split(":"))
    utc0 = time.time() + (t0_monotonic - time.monotonic())
    tod_utc = utc0 % 86400
    delta = (hh * 3600 + mm * 60 + ss - tod_utc) % 86400
    if delta > 43200:
        delta -= 86400
    sign = "-" if delta >= 0 else "+"  # POSIX: the offset is what is added to local time to get UTC
    delta = abs(int(round(delta)))
    return "BENCH%s%02d:%02d:%02d" % (sign, delta // 3600, delta % 3600 // 60, delta % 60)


def run_scenario(path: str, out_root: str, progress: Callable[[str], None] | None = None) -> BenchResult:
    """Loads, runs and reports one scenario into out_root/<name>/."""
    from gaslatch_tools.bench.report import write_report

    scenario = S.load(path)
    out_dir = os.path.join(out_root, scenario["name"])
    result = BenchRun(scenario, out_dir, path, progress).run()
    write_report(result)
    return result
