"""`gaslatch-unit` (`python -m gaslatch.unit`): the kitchen unit's own command, on the standard library alone.

`run` is what systemd starts; the others are the operator's commands on site. Nothing here imports the
host tools, so a broken report module can never stop the gas controller from starting.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

import gaslatch
from gaslatch import translation
from gaslatch.core import events as E
from gaslatch.core.commands import LEVELS
from gaslatch.core.config_schema import DEFAULT_CONTROL_SOCKET, DEFAULT_MANIFEST_PATH, DEFAULT_STORE_PATH
from gaslatch.core.constants import HARD_INHIBIT_MAX_MIN
from gaslatch.problem_text import format_problems
from gaslatch.translation import N_, _
from gaslatch.unit import argparse_words
from gaslatch.unit.command_error import EXIT_UNREACHABLE, EXIT_USAGE, CommandError
from gaslatch.unit.control_client import DEFAULT_TIMEOUT_S, ControlUnreachable
from gaslatch.unit.control_commands import OUTPUT_CHECKS

DEFAULT_CONFIG_PATH = "/etc/gaslatch/config.json"
CONTROL_EXIT_CODES = N_("Exit codes: 0 done, 1 refused or failed, 2 usage, 3 gaslatch cannot be reached "
                        "(not running, not in its group).")


class Command(NamedTuple):
    """One unit command: its name, one line of help, its arguments, and where its handler lives.

    The handler's module is imported by name when its command runs: `run` does not load the events listing.
    """

    name: str
    summary: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: str  # "module:function", called with the parsed arguments; returns the exit code
    extra: str = ""  # the pip extra its handler needs beyond the base install ("" for none)
    exit_codes: bool = False  # a command of the control socket: its help ends with CONTROL_EXIT_CODES


def main(argv: Sequence[str] | None = None, prog: str = "gaslatch") -> int:
    """Parses argv (sys.argv[1:] when None), runs the command, returns its exit code.

    prog is the name the usage lines show: `gaslatch` when the host command hands a command over.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    translation.use(translation.language_from(_lang_flag(argv), os.environ))
    argparse_words.install()
    args = build_parser(prog).parse_args(argv)
    module_name, function_name = args.command.handler.split(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    try:
        return handler(args)
    except CommandError as err:
        print(_("gaslatch %(command)s: %(error)s") % {"command": args.command.name, "error": err}, file=sys.stderr)
        return err.exit_code
    except ControlUnreachable as err:
        print("gaslatch: %s" % err, file=sys.stderr)
        return EXIT_UNREACHABLE


def _lang_flag(argv: list[str]) -> str | None:
    """The value of --lang before the command (--lang zh, --lang=zh), when it is one gaslatch speaks: the
    language must be known before the parser is built, its help being in that language. Given more than once, the
    last counts, as the parser takes it. A bad value is left to the parser, which refuses it with the choices."""
    chosen = None
    for index, arg in enumerate(argv):
        if arg in COMMAND_NAMES:
            break
        if arg == "--lang" or arg.startswith("--lang="):
            chosen = (argv[index + 1] if index + 1 < len(argv) else None) if arg == "--lang" else arg.partition("=")[2]
    return chosen if chosen in translation.LANGUAGES else None


def build_parser(prog: str = "gaslatch") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=_("gaslatch kitchen unit: the gas controller and the operator's commands."),
        epilog=_("The commissioning, bench and platform tools are the host's `gaslatch` "
                 "(pip install 'gaslatch[commission]' and so on: docs/install.md)."))
    parser.add_argument("--version", action="version", version="gaslatch %s" % gaslatch.__version__)
    parser.add_argument("--lang", choices=translation.LANGUAGES,
                        help=_("The language of messages: zh (中文) or en (default: from LC_ALL, LC_MESSAGES or "
                               "LANG)."))
    commands = parser.add_subparsers(title=_("commands"), metavar="COMMAND", required=True)
    for command in COMMANDS:
        description = "\n".join(_(text) for text in (command.description, CONTROL_EXIT_CODES if command.exit_codes
                                                       else "") if text)
        sub = commands.add_parser(command.name, help=_(command.summary), description=description,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(sub)
        sub.set_defaults(command=command)
    return parser


def run(args: argparse.Namespace) -> int:
    """Loads the configuration and runs the controller until SIGTERM; 2 for a bad configuration."""
    from gaslatch.core.config import ConfigError
    from gaslatch.unit.runtime import Runtime, StartError
    from gaslatch.unit.unit_config import load_unit_config

    try:
        cfg, profiles = load_unit_config(args.config_path)
    except ConfigError as err:
        print(format_problems(err.problems), file=sys.stderr)
        return EXIT_USAGE
    if args.log_level:
        cfg["log"]["level"] = args.log_level
    try:
        runtime = Runtime(cfg, profiles)
    except StartError as err:
        problems = getattr(err, "problems", None)
        print(_("gaslatch cannot start: %s") % (format_problems(problems) if problems else err), file=sys.stderr)
        return 1
    return runtime.run()


def check_config(args: argparse.Namespace) -> int:
    """Validates a configuration file; every problem with its JSON path and a hint, exit 1 when any."""
    from gaslatch.core.config import ConfigError
    from gaslatch.unit.unit_config import load_unit_config

    try:
        cfg, _profiles = load_unit_config(args.path)
    except ConfigError as err:
        print(format_problems(err.problems), file=sys.stderr)
        return 1
    print(_("%(path)s: valid (%(detectors)d detectors, %(buses)d buses, %(lines)d lines)") % {
        "path": args.path, "detectors": len(cfg["detectors"]), "buses": len(cfg["buses"]), "lines": len(cfg["lines"])})
    return 0


def manifest(args: argparse.Namespace) -> int:
    """`manifest write`: the installed files' hashes (install.sh, as root); `manifest check`: the files against it."""
    from gaslatch.recorded_text import translate
    from gaslatch.unit.manifest import ManifestError, check_manifest, package_dir, write_manifest

    if args.action == "write":
        try:
            count = write_manifest(args.path)
        except ManifestError as err:
            raise CommandError(str(err)) from None
        print(_("%(path)s: %(count)d code and profile files of %(package)s") % {
            "path": args.path, "count": count, "package": package_dir()})
        return 0
    faults, checked = check_manifest(args.path)
    for fault in faults:
        print(_("self-test fault: %s") % translate(fault), file=sys.stderr)  # as the self-test records it
    if faults:
        return 1
    print(_("%(path)s: %(count)d code and profile files match") % {"path": args.path, "count": checked})
    return 0


# ---- arguments ----

def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", dest="config_path", metavar="PATH", default=DEFAULT_CONFIG_PATH,
                        help=_("Controller configuration file (default: %(default)s)."))
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        help=_("Override log.level from the configuration."))


def _manifest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("write", "check"), help=_("write the manifest, or check the files against it"))
    parser.add_argument("--path", default=DEFAULT_MANIFEST_PATH,
                        help=_("The manifest file (default: %(default)s, the config's self_test.manifest)."))


def _check_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help=_("The configuration file to check."))


def _bounded(kind: Callable[[str], float], low: float, high: float | None) -> Callable[[str], float]:
    """An argparse type: `kind` of the text, refused outside low..high with the range in the message; high None: a
    whole number of at least low, capped at sys.maxsize."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(_("%r is not a number") % text) from None
        if high is None:
            if value < low:
                raise argparse.ArgumentTypeError(_("%(value)s is not a whole number of at least %(low)d") % {
                    "value": text, "low": low})
            return min(value, sys.maxsize)  # more than SQLite counts is all of them
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(_("%(value)s is not in the range %(low)g to %(high)g") % {
                "value": text, "low": low, "high": high})
        return value
    return parse


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", dest="socket_path", metavar="PATH", default=os.environ.get("GASLATCH_SOCKET"),
                        help=_("Control socket (default: $GASLATCH_SOCKET, else control.socket of --config, else %s).")
                        % DEFAULT_CONTROL_SOCKET)
    parser.add_argument("--config", dest="config_path", metavar="PATH", default=os.environ.get("GASLATCH_CONFIG"),
                        help=_("Controller config file to take the control socket and group from "
                               "(default: $GASLATCH_CONFIG)."))
    parser.add_argument("--timeout", dest="timeout_s", metavar="SECONDS", type=_bounded(float, 0.1, 300),
                        default=DEFAULT_TIMEOUT_S, help=_("Seconds to wait for gaslatch to answer (default: %(default)s)."))


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_arguments(parser)
    parser.add_argument("--json", dest="as_json", action="store_true", help=_("Print the controller's raw reply as JSON."))


def _inhibit_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_arguments(parser)
    parser.add_argument("detector", help=_("The detector to inhibit, by its name in the configuration."))
    parser.add_argument("--minutes", metavar="N", type=_bounded(int, 1, HARD_INHIBIT_MAX_MIN),
                        help=_("Inhibit for this long (1-%d; the config may allow less). It always ends by itself.")
                        % HARD_INHIBIT_MAX_MIN)
    parser.add_argument("--end", action="store_true", help=_("End the detector's inhibit now."))


def _test_outputs_arguments(parser: argparse.ArgumentParser) -> None:
    _connection_arguments(parser)
    parser.add_argument("--line", dest="lines", action="append", choices=[name for name, _question in OUTPUT_CHECKS], default=[],
                        help=_("Test only this output (repeat for more). Default: all, valve last."))
    parser.add_argument("--ms", dest="pulse_ms", metavar="MS", type=_bounded(int, 100, 10000), default=2000,
                        help=_("How long each output is switched on (default: %(default)s)."))
    parser.add_argument("--yes", action="store_true",
                        help=_("Do not ask: pulse every output, close the valve, no confirmations."))


def _since(text: str) -> str:
    from gaslatch.unit.event_store import parse_since

    try:
        parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("%(value)s is neither a sequence number nor a UTC time like "
                                           "2026-11-24T21:50:00Z") % {"value": repr(text)}) from None
    return text


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_since, metavar="SEQ|TIME",
                        help=_("From this sequence number on (e.g. 1200), or recorded at or after this UTC time "
                               "(2026-11-24T21:00:00Z, 2026-11-24)."))
    parser.add_argument("--type", dest="types", action="append", choices=E.EVENT_TYPES, default=[], metavar="TYPE",
                        help=_("Only events of this type; repeat for several (--type trip --type reset). "
                               "One of: %s.") % ", ".join(E.EVENT_TYPES))
    parser.add_argument("--limit", type=_bounded(int, 1, None), metavar="N",
                        help=_("At most N events: the newest N, or the first N from --since."))
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help=_("One JSON object per line, with every stored field."))
    parser.add_argument("--store", dest="store_path", metavar="PATH",
                        help=_("The store file (default: store.path from --config, else %s).") % DEFAULT_STORE_PATH)
    parser.add_argument("--config", dest="config_path", metavar="PATH",
                        help=_("Configuration to take store.path from (default: %s when it exists).") % DEFAULT_CONFIG_PATH)


COMMANDS = (
    Command("run", N_("Run the kitchen controller (what systemd starts on the unit)."),
            N_("Refuses an invalid configuration with the same messages as check-config. After a start the\n"
               "valve stays closed until the reset button is pressed on site."),
            _run_arguments, "gaslatch.unit.cli:run"),
    Command("check-config", N_("Validate a controller configuration file."),
            N_("Every problem, with its JSON path and a hint: the safety rules, the installed detector profiles\n"
               "and the wiring (every line the configuration relies on is mapped to a pin). Exits 1 when there is\n"
               "any problem."),
            _check_config_arguments, "gaslatch.unit.cli:check_config"),
    Command("manifest", N_("Write the install manifest, or check the installed files against it (the self-test's "
                           "check)."),
            N_("write: the SHA-256 of every code and profile file of the installed gaslatch package (deploy/install.sh\n"
               "runs it as root after each install). check: what every start checks; exit 1 naming each file that\n"
               "was modified, is missing or was added since."),
            _manifest_arguments, "gaslatch.unit.cli:manifest"),
    Command("status", N_("Show every detector, output, interlock and inhibit, the trip latch and scan statistics."),
            "", _status_arguments, "gaslatch.unit.control_commands:status", exit_codes=True),
    Command("reset", N_("Ask for the local reset; it is carried out only when the RESET button is pressed."),
            N_("Refused at once, with the reasons, while anything blocks it (gas, a fault, an interlock, outside\n"
               "attended hours). Otherwise someone must press the physical button within the window (60 s by\n"
               "default): whoever reaches this socket over SSH is not necessarily standing in the kitchen."),
            _connection_arguments, "gaslatch.unit.control_commands:reset", exit_codes=True),
    Command("silence", N_("Silence the sounder for the configured time (a new alarm sounds again)."),
            N_("The beacon stays on."), _connection_arguments, "gaslatch.unit.control_commands:silence",
            exit_codes=True),
    Command("inhibit", N_("Inhibit one detector for maintenance (a bump test), or end its inhibit with --end."),
            N_("One detector at a time, only while it reads normal, never renewed; the others stay live."),
            _inhibit_arguments, "gaslatch.unit.control_commands:inhibit", exit_codes=True),
    Command("events", N_("List the events recorded on this unit, oldest first (read-only)."),
            N_("TIME is when the unit stored the event, by its own clock: a time marked ? was recorded before the\n"
               "clock was synchronised and may be wrong. SENT tells whether the monitoring platform has it."),
            _events_arguments, "gaslatch.unit.events_command:events"),
    Command("test-outputs", N_("Commissioning: switch each output on in turn and ask whether it worked."),
            N_("The valve test can only CLOSE the gas valve, never open it. Exits 0 only if every output tested\n"
               "was confirmed (or pulsed, with --yes)."), _test_outputs_arguments,
            "gaslatch.unit.control_commands:test_outputs"),
)
# The kitchen panel: its own process and service (gaslatch-panel.service), its own extra (`gaslatch[panel]`). Its
# arguments are here, so that `run` never imports the panel's package.
DEFAULT_PANEL_PINS = "/var/lib/gaslatch-panel/pins.json"  # the panel's StateDirectory: only its user reads it
DEFAULT_COMMISSIONING_RECORD = "/etc/gaslatch/commissioning.json"  # installed at the end of commissioning


def _panel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", dest="config_path", metavar="PATH", default="/etc/gaslatch/config.json",
                        help=_("The unit's configuration: where its control socket is (default: %(default)s)."))
    parser.add_argument("--socket", metavar="PATH", help=_("The control socket, instead of reading --config."))
    parser.add_argument("--group", metavar="GROUP", help=_("The control socket's group (with --socket)."))
    parser.add_argument("--listen", default="127.0.0.1:8090", metavar="HOST:PORT",
                        help=_("Where to serve (default: %(default)s: the kiosk screen on the unit itself; "
                               "0.0.0.0:8090 also serves the shop's LAN)."))
    parser.add_argument("--pins", default=DEFAULT_PANEL_PINS, metavar="PATH", help=_("The PIN file (default: %(default)s)."))
    parser.add_argument("--state-dir", default="/var/lib/gaslatch-panel", metavar="DIR",
                        help=_("Where the failed-PIN count is kept (default: %(default)s)."))
    parser.add_argument("--record", default=DEFAULT_COMMISSIONING_RECORD, metavar="PATH",
                        help=_("The commissioning record installed on the unit, shown at the installer level with "
                               "whether the unit runs its configuration (default: %(default)s)."))


def _panel_pin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("level", choices=LEVELS[1:], help=_("The access level."))
    parser.add_argument("--pins", default=DEFAULT_PANEL_PINS, metavar="PATH", help=_("The PIN file (default: %(default)s)."))


COMMANDS += (
    Command("panel", N_("Serve the kitchen panel: the state at a glance, what to do now, actions behind PINs."),
            N_("A separate process that talks to the controller only through its control socket (docs/operations.md, "
               "\"The kitchen panel\"). There is no open and no reset on the panel."),
            _panel_arguments, "gaslatch.panel.serve_command:panel", extra="panel"),
    Command("panel-pin", N_("Set the kitchen panel's PIN for one access level (operator, maintenance, installer)."),
            N_("Read from standard input, or asked twice at a terminal. 4 to 12 digits, one per level."),
            _panel_pin_arguments, "gaslatch.panel.pin_command:set_pin"),
)
COMMAND_NAMES = tuple(command.name for command in COMMANDS)


def console_main() -> None:
    """The `gaslatch-unit` console script and `python -m gaslatch.unit`."""
    sys.exit(main(prog="gaslatch-unit"))
