"""The unit commands' exit codes, and the one error a command raises to stop with a message and a code.

Shared by every command module of `gaslatch-unit`, so a script can rely on the same numbers everywhere.
"""

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class CommandError(Exception):
    """A command cannot go on: the message is for the person at the terminal, exit_code for scripts."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED):
        super().__init__(message)
        self.exit_code = exit_code
