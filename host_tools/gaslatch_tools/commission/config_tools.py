"""Configuration: config init, config validate, config push."""

from gaslatch_tools.commission.cli import commission  # noqa: F401  (commands register on it)
