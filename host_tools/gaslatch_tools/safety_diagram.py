"""Draws the detector state diagram in docs/safety.md from the transition table the code runs.

`python -m gaslatch_tools.safety_diagram` rewrites the block; `--check` exits 1 when it is stale.
"""

import sys
from pathlib import Path

from gaslatch.core import detector_state as D

BEGIN = "<!-- BEGIN generated: detector state diagram -->"
END = "<!-- END generated: detector state diagram -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "safety.md"


def mermaid() -> str:
    """The transition table as a Mermaid state diagram, in a stable order."""
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> warmup: power on"]
    for state in D.STATES:
        row = D.TRANSITIONS[state]
        for trigger in sorted(row):
            lines.append("    %s --> %s: %s" % (state, row[trigger], trigger))
    lines.append("```")
    return "\n".join(lines)


def render(text: str) -> str:
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    return text[:start] + "\n" + mermaid() + "\n" + text[end:]


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("docs/safety.md: state diagram is stale; run python -m gaslatch_tools.safety_diagram")
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
