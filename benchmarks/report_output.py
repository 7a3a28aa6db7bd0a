"""How every benchmark ends: its table for a person (unless --json), how long it ran, then one JSON line
for docs/benchmarks.md and for comparing runs."""

import json
from typing import Callable


def finish(doc: dict, as_json: bool, print_table: Callable[[dict], None]) -> None:
    if not as_json:
        print_table(doc)
        print("run %.1f s" % doc["run_s"])
    print(json.dumps(doc, sort_keys=True))
