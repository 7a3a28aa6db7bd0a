"""The HIL bench: emulated detectors, bus, valve and kitchen that the real `gaslatch run` is tested against."""
