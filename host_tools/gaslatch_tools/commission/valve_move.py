"""One movement of the gas valve read from the unit's status: the controller's command, then its switch or supervision.
valve-test and interlock-test time the valve with it; the bump test's linkage waits the same supervision time."""

from __future__ import annotations

from gaslatch.core import constants as C
from gaslatch_tools.commission.prompts import Prompter
from gaslatch_tools.commission.record import LIMITS_S
from gaslatch_tools.commission.unit_connection import UnitFacts, feedback
from gaslatch.translation import _


def valve_commanded_closed(status: dict, facts: UnitFacts) -> bool:
    """The controller has the valve closed: latched, and for a hold or motorised valve its line de-energised."""
    if not status.get("latched"):
        return False
    return facts.valve_type == "pulse" or not status.get("outputs", {}).get("valve", False)


def valve_feedback_open(status: dict) -> bool | None:
    """The open switch when the status reports it, else the closed switch inverted; None without either."""
    opened = feedback(status, "valve_feedback_open")
    if opened is not None:
        return opened
    closed = feedback(status, "valve_feedback_closed")
    return None if closed is None else not closed


def supervision_s(facts: UnitFacts) -> float:
    """How long after its command a valve that did not move shows as a valve fault (travel_s and a scan or so)."""
    return (facts.travel_s or C.DEFAULT_VALVE_TRAVEL_S) + 1.0


class ValveMove:
    """One movement of the valve seen in the unit's status: the controller's command, then its limit switch."""

    def __init__(self, facts: UnitFacts, closed: bool):
        self.facts = facts
        self.closed = closed
        self.command_t: float | None = None
        self.switch_t: float | None = None
        self.fault = ""
        self.inputs_reported = False
        self.last_t = 0.0

    def seen(self, t: float, status: dict) -> None:
        self.last_t = t
        commanded = valve_commanded_closed(status, self.facts) if self.closed else (
            not status.get("latched") and (self.facts.valve_type == "pulse" or status.get("outputs", {}).get("valve")))
        if commanded and self.command_t is None:
            self.command_t = t
        position = feedback(status, "valve_feedback_closed") if self.closed else valve_feedback_open(status)
        if position is not None:
            self.inputs_reported = True
            if position and self.switch_t is None and self.command_t is not None:
                self.switch_t = t
        if status.get("valve_fault") and self.command_t is not None:
            self.fault = status["valve_fault"]

    def done(self, _status: dict) -> bool:
        if self.fault or self.switch_t is not None:
            return True
        if self.command_t is None:
            return False
        if self.facts.valve_feedback in (None, "none"):
            return True  # the installer is asked
        return not self.inputs_reported and self.last_t - self.command_t >= supervision_s(self.facts)

    def source(self) -> str:
        if self.switch_t is not None:
            return "limit switch"
        if self.facts.valve_feedback not in (None, "none"):
            return "controller valve supervision"
        return "installer"

    def failures(self, prompter: Prompter, key: str, t0: float) -> list[str]:
        out = []
        if self.command_t is None:
            out.append(_("the controller did not command the valve closed") if self.closed
                       else _("the controller did not command the valve open"))
            return out
        if self.closed and self.command_t - t0 > LIMITS_S["linkage"]:
            out.append(_("close command after %(seconds).1f s, limit %(limit)g s")
                       % {"seconds": self.command_t - t0, "limit": LIMITS_S["linkage"]})
        if self.fault:
            out.append(_("valve fault: %s") % self.fault)
        elif self.switch_t is not None:
            travel = self.facts.travel_s
            if travel is not None and self.switch_t - self.command_t > travel:
                out.append((_("valve closed after %(seconds).1f s, longer than valve.travel_s %(limit)g s")
                            if self.closed else
                            _("valve open after %(seconds).1f s, longer than valve.travel_s %(limit)g s"))
                           % {"seconds": self.switch_t - self.command_t, "limit": travel})
        elif self.inputs_reported and self.facts.valve_feedback not in (None, "none"):
            out.append(_("the valve's closed switch did not make within valve.travel_s") if self.closed
                       else _("the valve's open switch did not make within valve.travel_s"))
        elif self.facts.valve_feedback in (None, "none"):
            if not prompter.confirm(key, _("No valve feedback is wired: is the gas valve closed?") if self.closed
                                    else _("No valve feedback is wired: is the gas valve open?")):
                out.append(_("the installer saw the valve not closed") if self.closed
                           else _("the installer saw the valve not open"))
        return out

