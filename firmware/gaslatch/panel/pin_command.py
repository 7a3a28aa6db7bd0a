"""`gaslatch panel-pin LEVEL`: set the kitchen panel's PIN of one access level (standard library only)."""

from __future__ import annotations

import argparse
import getpass
import sys


def set_pin(args: argparse.Namespace) -> int:
    """Sets the PIN of one level, read from standard input (one line) or asked twice at a terminal."""
    from gaslatch.panel import pins as P

    if sys.stdin.isatty():
        pin = getpass.getpass("PIN for %s: " % args.level)
        if getpass.getpass("again: ") != pin:
            print("the two PINs differ: nothing changed", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().rstrip("\r\n")
    try:
        P.PinFile(args.pins).set(args.level, pin)
    except (P.PinError, OSError) as err:
        print("gaslatch panel-pin: %s" % err, file=sys.stderr)
        return 1
    print("PIN set for the %s level in %s" % (args.level, args.pins))
    return 0
