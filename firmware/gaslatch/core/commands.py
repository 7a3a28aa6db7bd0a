"""Every command the controller takes, in one table: its arguments, who may send it, and what it does.

Commands reach the controller from two channels. LOCAL: the control socket on the unit (`gaslatch
status`, `reset`, `silence`, `inhibit`, `test-outputs`; the kitchen panel later), open to the members
of the control group, each command needing an access level. REMOTE: the platform over the uplink, each
command signed and checked by uplink_wire.verify_command first; only commands that make the kitchen
safer or ask something. The control socket's request check, the uplink's list of what a platform may
send and the controller's dispatch are all read from COMMANDS, so adding a command is one entry and
one handler here (docs/architecture.md, "Add a command").

No command opens the valve or resets the latch. `reset` only opens a window (reset_window.py) in
which the person is told what the RESET button on the unit did; the press itself is judged by
safety.py whether anybody asked.
"""

from gaslatch.core import events as E
from gaslatch.core.json_schema_subset import Interpreter
from gaslatch.core.output_test import TESTABLE_OUTPUTS
from gaslatch.core.reset_window import WAITING
from gaslatch.core.safety import OUT_VALVE

LOCAL = "local"
REMOTE = "remote"
CHANNELS = (LOCAL, REMOTE)

# Access levels for local commands, lowest first (EN 50271 asks for levels; the panel's PINs map to
# them). Anyone who may use the socket has VIEW today; the socket grants every level to its group.
VIEW = "view"  # read the state
OPERATOR = "operator"  # kitchen staff: silence, ask for the reset
MAINTENANCE = "maintenance"  # inhibit a detector, pulse outputs
INSTALLER = "installer"  # read the configuration and the commissioning record at the panel
LEVELS = (VIEW, OPERATOR, MAINTENANCE, INSTALLER)
# What a panel reports with `access` (every one an ACCESS event the uplink carries).
ACCESS_WHAT = ("login", "login_failed", "locked_out", "logout", "timed_out")

DETECTOR_NAME = {"type": "string", "minLength": 1, "maxLength": 32, "description": "A detector's name."}
NO_ARGS = {"type": "object", "additionalProperties": False}
# A close is never refused for what came with it: closing is always the safe direction.
IGNORED_ARGS = {"type": "object", "description": "ignored"}

SYNC_TIME_REPLY = "the unit's clock is kept by NTP (systemd-timesyncd); nothing changed"


class Command:
    """One row of the table.

    args: a JSON Schema subset object schema (json_schema_subset) for the arguments, all required;
    channels: the channels it may come from; level: the access level a local user needs;
    remote_flag: the uplink config flag that must be true for the remote channel (None: always);
    handler(controller, now_ms, args, source) -> reply dict {"ok": bool, "message" | "error", ...}.
    """

    def __init__(self, name, summary, args, channels, level, handler, remote_flag=None):
        self.name = name
        self.summary = summary
        self.args = args
        self.channels = channels
        self.level = level
        self.handler = handler
        self.remote_flag = remote_flag


def reply(ok, text):
    """A reply from a (ok, text) outcome: {"ok", "message"} or {"ok", "error"}."""
    return {"ok": True, "message": text} if ok else {"ok": False, "error": text}


def _status(controller, now_ms, args, source):
    return {"ok": True, "status": controller.status(now_ms)}


def _reset(controller, now_ms, args, source):
    if not controller.latched:
        return {"ok": True, "state": "not_needed", "message": "not tripped: nothing to reset"}
    blockers = controller.reset_blockers(now_ms)
    if blockers:
        return {"ok": False, "state": "refused", "reasons": blockers, "error": "reset refused: " + "; ".join(blockers)}
    ticket = controller.reset_window.open(now_ms)
    return {"ok": True, "state": WAITING, "window_s": controller.reset_window.window_s, "ticket": ticket}


def _silence(controller, now_ms, args, source):
    return reply(*controller.safety.command_silence(now_ms, source))


def _inhibit(controller, now_ms, args, source):
    return reply(*controller.safety.command_inhibit(now_ms, args["detector"], args["minutes"], source))


def _end_inhibit(controller, now_ms, args, source):
    return reply(*controller.safety.command_end_inhibit(now_ms, args["detector"], source))


def _test_output(controller, now_ms, args, source):
    line = args["line"]
    if line == OUT_VALVE:
        # The valve test closes it; reopening needs the local reset like after any trip.
        ok, _ = controller.safety.command_close_valve(now_ms, "valve test by %s" % source)
        return {"ok": ok, "message": "valve closing; reopen it with the local reset"}
    if line not in TESTABLE_OUTPUTS:
        return reply(False, "no testable output %s (one of valve, %s)" % (line, ", ".join(TESTABLE_OUTPUTS)))
    if line not in controller.cfg["lines"]:
        return reply(False, "output %s is not wired (no entry under lines)" % line)
    held_ms = controller.output_tests.start(now_ms, line, args["ms"])
    controller.log.emit(now_ms, E.COMMAND, E.SEVERITY_WARNING, line, "test_output", held_ms,
                        "commissioning test of %s for %d ms by %s" % (line, held_ms, source))
    return reply(True, "%s pulsed for %d ms" % (line, held_ms))


def _close_valve(controller, now_ms, args, source):
    return reply(*controller.safety.command_close_valve(now_ms, source))


def _access(controller, now_ms, args, source):
    what, level = args["what"], args["level"]
    severity = E.SEVERITY_WARNING if what in ("login_failed", "locked_out") else E.SEVERITY_INFO
    controller.record(now_ms, E.ACCESS, severity, source, what, level, "%s %s at level %s" % (
        source, what.replace("_", " "), level))
    return reply(True, "recorded")


def _daily_check(controller, now_ms, args, source):
    return reply(*controller.daily_check.confirm(now_ms, controller.today, controller.minute(), args["items"], source,
                                                 controller.log))


def _sync_time(controller, now_ms, args, source):
    return reply(False, SYNC_TIME_REPLY)


def _args(properties):
    return {"type": "object", "properties": properties, "required": sorted(properties),
            "additionalProperties": False}


COMMANDS = {}
for _command in (
    Command("status", "every detector, output, interlock and inhibit, the latch and what would block a reset",
            NO_ARGS, (LOCAL, REMOTE), VIEW, _status),
    Command("reset", "wait for the RESET button on the unit (the command itself resets nothing)",
            NO_ARGS, (LOCAL,), OPERATOR, _reset),
    Command("silence", "silence the sounder for sounder.silence_s; a new alarm sounds again",
            NO_ARGS, (LOCAL, REMOTE), OPERATOR, _silence, remote_flag="allow_silence"),
    Command("inhibit", "take one normal detector out of the trip logic for a bounded time",
            _args({"detector": DETECTOR_NAME,
                   "minutes": {"type": "integer", "minimum": 1, "maximum": 24 * 60}}),
            (LOCAL,), MAINTENANCE, _inhibit),
    Command("end_inhibit", "put an inhibited detector back into the trip logic",
            _args({"detector": DETECTOR_NAME}), (LOCAL,), MAINTENANCE, _end_inhibit),
    Command("test_output", "pulse a non-valve output for commissioning, or close the valve",
            _args({"line": {"type": "string", "minLength": 1, "maxLength": 32},
                   "ms": {"type": "integer", "minimum": 1, "maximum": 60000}}),
            (LOCAL,), MAINTENANCE, _test_output),
    Command("close_valve", "close the gas valve (reopening needs the local reset)",
            IGNORED_ARGS, (REMOTE,), OPERATOR, _close_valve),
    Command("daily_check", "confirm today's daily check (每日检查): every item of the checklist ticked",
            _args({"items": {"type": "array", "maxItems": 32, "uniqueItems": True,
                             "items": {"type": "string", "minLength": 1, "maxLength": 32}}}),
            (LOCAL,), OPERATOR, _daily_check),
    Command("sync_time", "set the unit's clock (refused: NTP keeps it)", NO_ARGS, (REMOTE,), OPERATOR, _sync_time),
    Command("access", "record a login, failed login, lockout or logout at a panel (an access event)",
            _args({"what": {"type": "string", "enum": list(ACCESS_WHAT)},
                   "level": {"type": "string", "enum": list(LEVELS[1:])}}),
            (LOCAL,), VIEW, _access),
):
    COMMANDS[_command.name] = _command

LOCAL_COMMANDS = tuple(sorted(name for name in COMMANDS if LOCAL in COMMANDS[name].channels))
REMOTE_COMMANDS = tuple(sorted(name for name in COMMANDS if REMOTE in COMMANDS[name].channels))

_ARGS = Interpreter({}, "kind")


def remote_enabled(uplink_cfg):
    """The remote commands this unit's config enables (a platform may never send the others)."""
    return tuple(name for name in REMOTE_COMMANDS
                 if COMMANDS[name].remote_flag is None or uplink_cfg.get(COMMANDS[name].remote_flag))


def arg_refusal(name, args):
    """'' when `args` fit command `name`, else what is wrong in one line (at most three problems), e.g.
    'inhibit: minutes 0 is below the minimum 1 (arguments: detector, minutes)'."""
    problems = _ARGS.problems(COMMANDS[name].args, args)
    if not problems:
        return ""
    words = []
    for problem in problems[:3]:
        where = problem.path[1:]
        words.append("%s %s" % (where[1:] if where.startswith(".") else (where or "args"), problem.message))
    known = ", ".join(sorted(COMMANDS[name].args.get("properties", {}))) or "none"
    return "%s: %s (arguments: %s)" % (name, "; ".join(words), known)


def normalised_args(name, args):
    """Checked args as the handler takes them (3.0 -> 3: JSON has one number type)."""
    return _ARGS.with_defaults(COMMANDS[name].args, args)


def refusal(name, channel, uplink_cfg):
    """Why `name` may not come from `channel` on this unit ('' when it may)."""
    command = COMMANDS.get(name)
    if command is None:
        return "unknown command %s" % name
    if channel not in command.channels:
        return "%s is not taken from the %s channel" % (name, channel)
    if channel == REMOTE and name not in remote_enabled(uplink_cfg):
        return "%s is not enabled on this unit" % name
    return ""
