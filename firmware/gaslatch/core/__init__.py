"""The safety core: pure, sans I/O, runs unchanged on CPython and MicroPython 1.27."""
