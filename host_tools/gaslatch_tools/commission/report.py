"""The commissioning report: HTML and PDF, Chinese and English."""

from gaslatch_tools.commission.cli import commission  # noqa: F401  (commands register on it)
