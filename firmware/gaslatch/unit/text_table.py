"""Plain-text tables for the unit's commands: aligned columns under a title, readable over SSH and in a log.

The unit has no terminal library; this is all the layout `gaslatch-unit status` and `test-outputs` need. Columns
are measured in terminal cells, not characters: a Chinese character takes two (Unicode's East Asian Width), so a
table in Chinese lines up as one in English does.
"""

from __future__ import annotations

from collections.abc import Sequence


def cells(text: str) -> int:
    """The terminal cells `text` takes: 2 for a wide or full-width character (汉字, ：), 0 for a combining mark and
    for what a terminal draws as nothing (a zero-width space or joiner, a variation selector), 1 for the rest."""
    import unicodedata  # here: `gaslatch run` imports this module and never draws a table (its memory counts)

    return sum(_cells(char, unicodedata) for char in text)


def _cells(char: str, unicodedata) -> int:
    if unicodedata.combining(char) or (unicodedata.category(char) in ("Mn", "Me", "Cf") and char != "\u00ad"):
        return 0  # (a soft hyphen is drawn: one cell)
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def pad(text: str, width: int, right: bool = False) -> str:
    """`text` filled with spaces to `width` terminal cells (on the left when `right`)."""
    fill = " " * max(0, width - cells(text))
    return fill + text if right else text + fill


def render(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[str] = ()) -> str:
    """The title, the header line and one line per row; columns named in `right` are right-aligned."""
    texts = [[str(cell) for cell in row] for row in rows]
    widths = [max([cells(header)] + [cells(row[i]) for row in texts]) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [pad(value, width, header in right) for value, width, header in zip(values, widths, headers)]
        return "  ".join(parts).rstrip()

    return "\n".join([title, line(list(headers))] + [line(row) for row in texts])
