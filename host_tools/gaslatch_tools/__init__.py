"""Host-side tools for gaslatch: CLI, kitchen simulation, bench and commissioning."""
