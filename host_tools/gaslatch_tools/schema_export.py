"""Publishes the controller's config schema as docs/config.schema.json for editors and tools.

`python -m gaslatch_tools.schema_export` writes the file; `--check` exits 1 if it is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gaslatch.core.config_schema import SCHEMA

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "config.schema.json"


def render() -> str:
    """SCHEMA as the published JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"


def is_current(path: Path) -> bool:
    """True if the file at `path` holds exactly render()."""
    try:
        return path.read_text(encoding="utf-8") == render()
    except FileNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaslatch_tools.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schema")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="schema file (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        if is_current(args.output):
            return 0
        print("%s is out of date; run: python -m gaslatch_tools.schema_export" % args.output, file=sys.stderr)
        return 1
    args.output.write_text(render(), encoding="utf-8")
    print("wrote %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
