"""Lifecycle reminders: each detector's end of life and calibration, and the valve's end of life.

Pure: fed today's local day number (civil_date), or None while the clock is not set. Each reminder goes
through the stages ok -> soon (notice_days ahead) -> due, and every change of stage is one `maintenance_due`
event, so a reminder is raised once however often the day is evaluated. The stages already announced before
a restart come back in through `announced` (the unit reads them from its event store), so a restart raises
nothing again. A reminder never closes the gas: an old detector is not a failed one, and a wrong clock must not
shut a kitchen; a detector that fails is caught by its own fault handling (docs/operations.md).
"""

from gaslatch.core import civil_date as C
from gaslatch.core import constants
from gaslatch.core import events as E

OK = "ok"
SOON = "soon"
DUE = "due"
UNKNOWN = "unknown"  # no install date recorded: nothing can be reminded
STAGES = (OK, SOON, DUE)

END_OF_LIFE = "end_of_life"
CALIBRATION = "calibration"
TASKS = (END_OF_LIFE, CALIBRATION)
VALVE = "valve"

_TASK_TEXT = {END_OF_LIFE: "end of life (replace)", CALIBRATION: "calibration / bump test"}
_SEVERITY = {OK: E.SEVERITY_INFO, SOON: E.SEVERITY_INFO, DUE: E.SEVERITY_WARNING}


def source_of(asset, task):
    """The event source of one reminder, e.g. 'hood1:calibration' or 'valve:end_of_life'."""
    return asset + ":" + task


def reminders(cfg):
    """Every reminder the config allows: (asset, task, due day, what it was counted from); and the assets
    without an install date."""
    out = []
    unknown = []
    interval = cfg["maintenance"]["calibration_interval_days"]
    for name in sorted(cfg["detectors"]):
        det = cfg["detectors"][name]
        installed = C.parse(det.get("installed"))
        if installed is None:
            unknown.append(name)
            continue
        out.append((name, END_OF_LIFE, C.add_years(installed, constants.DETECTOR_LIFE_YEARS),
                    "installed %s, %d years" % (det["installed"], constants.DETECTOR_LIFE_YEARS)))
        calibrated = C.parse(det.get("calibrated"))
        since, what = (calibrated, "calibrated") if calibrated is not None else (installed, "installed")
        out.append((name, CALIBRATION, since + interval, "%s %s, every %d days" % (what, C.text(since), interval)))
    installed = C.parse(cfg["valve"].get("installed"))
    if installed is None:
        unknown.append(VALVE)
    else:
        out.append((VALVE, END_OF_LIFE, C.add_years(installed, constants.VALVE_LIFE_YEARS),
                    "installed %s, %d years" % (cfg["valve"]["installed"], constants.VALVE_LIFE_YEARS)))
    return out, unknown


def stage(due, today, notice_days):
    if today >= due:
        return DUE
    return SOON if due - today <= notice_days else OK


class Lifecycle:
    def __init__(self, cfg, announced=None):
        """announced: event source -> the stage its last maintenance_due event gave, or (stage, due date text) as
        that event's state and value (from the store)."""
        self.items, self.unknown = reminders(cfg)
        self.notice_days = cfg["maintenance"]["notice_days"]
        self.announced = {}
        self.announced_due = {}  # source -> the due date its last event named, when known
        for asset, task, _due, _basis in self.items:
            last = (announced or {}).get(source_of(asset, task))
            due_text = None
            if isinstance(last, (tuple, list)) and len(last) == 2:
                last, due_text = last
            self.announced[source_of(asset, task)] = last if last in STAGES else OK
            self.announced_due[source_of(asset, task)] = due_text if isinstance(due_text, str) else None
        # Reminders announced soon or due that the config no longer has (the detector removed or renamed, its install
        # date taken out): each is told ok once, so the platform's warning clears and its end-of-life count drops it.
        self.retired = []
        for source in sorted(announced or {}):
            last = (announced or {})[source]
            last = last[0] if isinstance(last, (tuple, list)) and len(last) == 2 else last
            if source not in self.announced and last in (SOON, DUE):
                self.retired.append(source)
        self.today = None

    def update(self, now_ms, today, log):
        """Raise an event for every reminder whose stage changed since it was last announced. Once a day."""
        if today is None or today == self.today:
            return
        self.today = today
        for source in self.retired:
            log.emit(now_ms, E.MAINTENANCE_DUE, E.SEVERITY_INFO, source, OK, None,
                     "%s: no longer reminded (not in the configuration, or no install date)" % source)
        self.retired = []
        for asset, task, due, basis in self.items:
            source = source_of(asset, task)
            now = self._shown_stage(source, due, today)
            if now == self.announced[source]:
                continue
            self.announced[source] = now
            self.announced_due[source] = C.text(due)
            log.emit(now_ms, E.MAINTENANCE_DUE, _SEVERITY[now], source, now, C.text(due),
                     _reason(asset, task, now, due, today, basis))

    def _shown_stage(self, source, due, today):
        """The stage of a reminder today, but the one already announced when the same date is one stage back: only
        the clock went back a little (a restart on fake-hwclock's saved time before NTP), and that was already said.
        A new date (config) says ok, and so does a clock corrected from far ahead (due -> ok), so that a wrongly
        raised warning is cleared. Events and status agree on it."""
        now = stage(due, today, self.notice_days)
        announced = self.announced[source]
        if STAGES.index(announced) - STAGES.index(now) == 1 and self.announced_due[source] == C.text(due):
            return announced
        return now

    def status(self):
        """Every reminder with its stage today (None before the clock is known), then the assets without a date."""
        out = []
        for asset, task, due, basis in self.items:
            out.append({"asset": asset, "task": task, "due": C.text(due), "basis": basis,
                        "stage": None if self.today is None else self._shown_stage(source_of(asset, task), due,
                                                                                   self.today),
                        "days_left": None if self.today is None else due - self.today})
        for asset in self.unknown:
            out.append({"asset": asset, "task": END_OF_LIFE, "due": None, "basis": "no install date recorded",
                        "stage": UNKNOWN, "days_left": None})
        return out


def _reason(asset, task, now, due, today, basis):
    what = "%s %s" % (asset, _TASK_TEXT[task])
    if now == OK:
        return "%s: next due %s (%s)" % (what, C.text(due), basis)
    if now == SOON:
        left = due - today
        return "%s due %s, in %d day%s (%s)" % (what, C.text(due), left, "" if left == 1 else "s", basis)
    return "%s was due %s (%s)" % (what, C.text(due), basis) if today > due else "%s due today (%s)" % (what, basis)
