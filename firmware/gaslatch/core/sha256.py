"""SHA-256 for the core and the unit, without loading OpenSSL on CPython.

`import hashlib` maps OpenSSL's libcrypto into the process, about 3.6 MiB resident on the unit (measured: a unit
without an uplink went from 20.4 to 24.0 MiB when its event store began importing uplink_wire). CPython's own
built-in module computes the same digests without it; MicroPython and any other Python use hashlib.
"""

try:
    from _sha256 import sha256  # CPython 3.11
except ImportError:
    try:
        from _sha2 import sha256  # CPython 3.12 and later
    except ImportError:
        from hashlib import sha256  # MicroPython, or a CPython built without them

__all__ = ["sha256"]
