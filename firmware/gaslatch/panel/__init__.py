"""The kitchen panel (`gaslatch panel`): the unit's face for the cook, the owner and the installer.

A separate process that talks to the controller only through the control socket, so that if it dies, hangs or
is attacked the controller does not notice (docs/operations.md, "The kitchen panel").
"""
