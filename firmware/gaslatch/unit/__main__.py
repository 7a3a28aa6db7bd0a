"""`python -m gaslatch.unit`: the same as the `gaslatch-unit` command (run, status, reset, ...)."""

from gaslatch.unit.cli import console_main

console_main()
