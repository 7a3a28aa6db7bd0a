"""The one test kit (as gpiozero's `testing/`): what the tests, the HIL bench, the benchmarks and the demo start
around the real unit, written once.

broker: mosquitto on loopback with the deploy configuration (TLS, passwords and ACL, persistence, the right user);
pki: a throw-away CA for it (trustme; tests only). postgres: a throwaway PostgreSQL server on loopback.
controller_process: `gaslatch-unit run` as a process, ready by sd_notify. kitchen_config: its configuration here.
detector_bus: a pty bus of the bench's EmulatedDetectors. running_unit: a running unit as the tests play it.
notice_sinks: a mail server and an HTTP sink standing in for the notifier's channels.
ports: free_port(). waiting: wait_until(). fixtures: the pytest fixtures built on them.
"""
