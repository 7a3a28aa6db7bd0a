"""The one test kit (as gpiozero's `testing/`): what the tests, the HIL bench, the benchmarks and the demo start
around the real unit, written once.

broker: mosquitto on loopback with the deploy configuration (TLS, passwords and ACL, persistence, the right user).
pki: a throw-away CA for the broker's TLS listener and the unit's client certificate (trustme; tests only).
postgres: a throwaway PostgreSQL server on loopback. ports: free_port(). waiting: wait_until().
fixtures: the pytest fixtures built on them (`broker`, `postgres`, `postgres_url`, `platform_db`).
"""
