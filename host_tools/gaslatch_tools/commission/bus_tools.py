"""Bus commands: scan, live, set-address, set-baud, calibrate."""

from gaslatch_tools.commission.cli import commission  # noqa: F401  (commands register on it)
