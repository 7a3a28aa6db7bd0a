"""gaslatch: restaurant gas-leak protection controller."""

__version__ = "0.1.0"
