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
    if args and args[0] in unit_cli.COMMAND_NAMES:
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


if __name__ == "__main__":
    main()
