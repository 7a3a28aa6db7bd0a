"""`gaslatch panel-pin LEVEL`: set the kitchen panel's PIN of one access level (standard library only)."""

from __future__ import annotations

import argparse
import getpass
import sys

from gaslatch.told import told
from gaslatch.translation import _


def set_pin(args: argparse.Namespace) -> int:
    """Sets the PIN of one level, read from standard input (one line) or asked twice at a terminal."""
    from gaslatch.panel import pins as P
    from gaslatch.panel.words import LEVEL_NAMES

    level = _(LEVEL_NAMES[args.level]) if args.level in LEVEL_NAMES else args.level
    if sys.stdin.isatty():
        pin = getpass.getpass(_("PIN for the %(level)s level: ") % {"level": level})
        if getpass.getpass(_("again: ")) != pin:
            print(_("the two PINs differ: nothing changed"), file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().rstrip("\r\n")
    try:
        P.PinFile(args.pins).set(args.level, pin)
    except (P.PinError, OSError) as err:
        print("gaslatch panel-pin: %s" % told(err), file=sys.stderr)
        return 1
    print(_("PIN set for the %(level)s level in %(path)s") % {"level": level, "path": args.pins})
    return 0
