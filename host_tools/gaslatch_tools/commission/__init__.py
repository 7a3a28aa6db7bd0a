"""`gaslatch commission`: the installer's tools, from an unknown RS-485 bus to a signed-off kitchen."""
