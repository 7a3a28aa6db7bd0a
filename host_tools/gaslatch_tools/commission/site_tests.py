"""Site tests with the unit running: bump-test, valve-test, interlock-test."""

from gaslatch_tools.commission.cli import commission  # noqa: F401  (commands register on it)
