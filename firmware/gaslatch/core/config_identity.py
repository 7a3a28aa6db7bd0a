"""The configuration identity: one SHA-256 over the loaded config and every profile it uses, so an inspector
can compare the running unit with the signed commissioning record; and the config's push counter.

Pure and MicroPython-compatible (sha256 from core/sha256.py, binascii): the unit, the commissioning tools and a board port
compute the same identity from the same files.

Canonical form (docs/config.md, "Configuration identity"): the UTF-8 bytes of
    {"config":<the normalised config without config_version>,"profiles":{<name>:<profile JSON>,...}}
written as uplink_wire.canonical_json writes it (no spaces, keys sorted by code point, ASCII with lowercase
\\uXXXX escapes), with numbers as below. The normalised config is the file with every default filled in
(config.load_config), so key order, whitespace, escapes and a default written out or left out give the same
identity, and any change of a value the controller runs with gives another. The profiles are those the
detectors name (the defaults analog-ne43 and contact-dry included), each as its JSON file was parsed.
Numbers: an integer, or a float with a whole value (3.0), in decimal; any other float as repr() (12.5).
"""

import binascii

from gaslatch.core.sha256 import sha256
from gaslatch.core.uplink_wire import canonical_json

# The push counter's key: counted by `gaslatch commission config push`, left out of the identity (the identity
# is the content; the version says which push wrote it).
VERSION_KEY = "config_version"
SHORT_HEX_DIGITS = 12  # shown on the panel and in `gaslatch status`; the full 64 in records and --json


def used_profiles(cfg):
    """The names of the profiles the config's detectors use, sorted."""
    names = {}
    for name in cfg["detectors"]:
        names[cfg["detectors"][name]["profile"]] = True
    return sorted(names)


def canonical_text(cfg, profiles):
    """The canonical form (text) of a normalised config and its used profiles.

    profiles: name -> detector_profile.Profile (its .document is used) or the profile's parsed JSON; every
    profile the config uses must be there (KeyError otherwise), any other is ignored.
    """
    config = {}
    for key in cfg:
        if key != VERSION_KEY:
            config[key] = cfg[key]
    chosen = {}
    for name in used_profiles(cfg):
        profile = profiles[name]
        chosen[name] = getattr(profile, "document", profile)
    return canonical_json({"config": config, "profiles": chosen})


def config_identity(cfg, profiles):
    """The identity: SHA-256 of canonical_text() in UTF-8, as 64 lowercase hex digits."""
    digest = sha256(canonical_text(cfg, profiles).encode("utf-8")).digest()
    return binascii.hexlify(digest).decode("ascii")


def short_identity(identity):
    """The first SHORT_HEX_DIGITS hex digits, as shown on the panel and in `gaslatch status`."""
    return identity[:SHORT_HEX_DIGITS]


def config_version(cfg):
    """The push counter of a normalised config (0 for a file never pushed)."""
    return cfg.get(VERSION_KEY, 0)

