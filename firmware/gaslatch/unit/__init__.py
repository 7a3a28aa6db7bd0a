"""The kitchen unit's platform on CPython: serial, GPIO, ADC, watchdog, event store, control socket, `run`."""
