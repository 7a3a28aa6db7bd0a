"""Publishes the JSON Schemas of our file formats in docs/ for editors and tools.

`python -m gaslatch_tools.schema_export` writes the controller config's (docs/config.schema.json);
`--schema profile` a detector profile's (docs/profile.schema.json), `--schema bench` the bench scenario's
(docs/bench.schema.json), `--schema warning-rules` and `--schema platform-contacts` the platform's files'
(docs/schemas/); `--check` exits 1 if out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gaslatch.core.config_schema import SCHEMA
from gaslatch.core.profile_schema import SCHEMA as PROFILE_SCHEMA

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEFAULT_OUTPUT = DOCS / "config.schema.json"
OUTPUTS = {"config": DEFAULT_OUTPUT, "profile": DOCS / "profile.schema.json", "bench": DOCS / "bench.schema.json",
           "warning-rules": DOCS / "schemas" / "warning-rules.schema.json",
           "platform-contacts": DOCS / "schemas" / "platform-contacts.schema.json"}


def _schema(which: str) -> dict:
    if which == "bench":
        from gaslatch_tools.bench.scenario import SCHEMA as BENCH_SCHEMA

        return BENCH_SCHEMA
    if which == "profile":
        return PROFILE_SCHEMA
    if which == "warning-rules":
        from gaslatch_tools.platform.rules import SCHEMA as RULES_SCHEMA

        return RULES_SCHEMA
    if which == "platform-contacts":
        from gaslatch_tools.platform.contacts import SCHEMA as CONTACTS_SCHEMA

        return CONTACTS_SCHEMA
    return SCHEMA


def render(which: str = "config") -> str:
    """The schema as the published JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(_schema(which), indent=2, sort_keys=True) + "\n"


def is_current(path: Path, which: str = "config") -> bool:
    """True if the file at `path` holds exactly render(which)."""
    try:
        return path.read_text(encoding="utf-8") == render(which)
    except FileNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaslatch_tools.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schema")
    parser.add_argument("--schema", choices=sorted(OUTPUTS), default="config", help="which schema (default: config)")
    parser.add_argument("--output", type=Path, help="schema file (default: per --schema, under docs/)")
    args = parser.parse_args(argv)
    output = args.output or OUTPUTS[args.schema]
    if args.check:
        if is_current(output, args.schema):
            return 0
        print("%s is out of date; run: python -m gaslatch_tools.schema_export --schema %s" % (output, args.schema),
              file=sys.stderr)
        return 1
    output.write_text(render(args.schema), encoding="utf-8")
    print("wrote %s" % output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
