"""Plain-text tables for the unit's commands: aligned columns under a title, readable over SSH and in a log.

The unit has no terminal library; this is all the layout `gaslatch-unit status` and `test-outputs` need.
"""

from __future__ import annotations

from collections.abc import Sequence


def render(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[str] = ()) -> str:
    """The title, the header line and one line per row; columns named in `right` are right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [value.rjust(width) if header in right else value.ljust(width)
                 for value, width, header in zip(values, widths, headers)]
        return "  ".join(parts).rstrip()

    return "\n".join([title, line(list(headers))] + [line(row) for row in cells])
