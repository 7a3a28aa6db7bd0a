"""The `gaslatch` command's front door: the unit's commands go straight to `gaslatch.unit.cli`, the rest to the host CLI.

On the standard library alone, so `gaslatch status` works (and stays light) on a unit with only the base
install, and a missing host extra is one line saying what to install, not a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from gaslatch.unit import cli as unit_cli

HOST_PACKAGES = ("click", "rich")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if _unit_command(args):
        sys.exit(unit_cli.main(args))
    try:
        from gaslatch_tools.host_cli import main as host_main
    except ModuleNotFoundError as err:
        if err.name not in HOST_PACKAGES:
            raise
        print("gaslatch: the host tools (commission, bench, demo, platform) are not installed here: "
              "pip install 'gaslatch[commission]' (or [bench], [platform]). The unit's commands work as they are: %s."
              % ", ".join(unit_cli.COMMAND_NAMES), file=sys.stderr)
        sys.exit(2)
    host_main(args, prog_name="gaslatch")


def _unit_command(args: list[str]) -> bool:
    """Whether the command (after any --lang, which both take) is one of the unit's."""
    while args[:1] == ["--lang"] or args[:1] and args[0].startswith("--lang="):
        args = args[2:] if args[0] == "--lang" else args[1:]
    return bool(args) and args[0] in unit_cli.COMMAND_NAMES


if __name__ == "__main__":
    main()
