"""Draws the state diagrams in docs/safety.md from the transition tables the code runs: one detector
(detector_state.TRANSITIONS), the trip latch and a pulse valve's closing pulses (safety.LATCH_TRANSITIONS,
safety.PULSE_TRANSITIONS), the airflow proving (airflow.TRANSITIONS) and the gas pressure proving
(proving.TRANSITIONS).

`python -m gaslatch_tools.safety_diagram` rewrites the blocks; `--check` exits 1 when any is stale.
"""

import sys
from pathlib import Path

from gaslatch.core import airflow as A
from gaslatch.core import detector_state as D
from gaslatch.core import proving as PV
from gaslatch.core import safety as SF

DOC = Path(__file__).resolve().parents[2] / "docs" / "safety.md"


def mermaid(states: tuple, transitions: dict, starts: list[tuple[str, str]]) -> str:
    """A transition table as a Mermaid state diagram, in a stable order: the start arrows (label,
    state) first, then each state's row in the order of `states`, its triggers sorted."""
    lines = ["```mermaid", "stateDiagram-v2"]
    for label, state in starts:
        lines.append("    [*] --> %s: %s" % (state, label))
    for state in states:
        row = transitions[state]
        for trigger in sorted(row):
            lines.append("    %s --> %s: %s" % (state, row[trigger], trigger))
    lines.append("```")
    return "\n".join(lines)


def detector_diagram() -> str:
    return mermaid(D.STATES, D.TRANSITIONS, [("power on", D.WARMUP)])


def latch_diagram() -> str:
    starts = [("power on, startup %s" % startup, SF.LATCH_AT_POWER_ON[startup])
              for startup in sorted(SF.LATCH_AT_POWER_ON)]
    return mermaid(SF.LATCH_STATES, SF.LATCH_TRANSITIONS, starts)


def pulse_diagram() -> str:
    return mermaid(SF.PULSE_STATES, SF.PULSE_TRANSITIONS, [("start", SF.PULSE_IDLE)])


def airflow_diagram() -> str:
    return mermaid(A.STATES, A.TRANSITIONS, [("power on, fan line wired", A.CHECKING),
                                             ("power on, fan not driven by the unit", A.STARTING)])


def proving_diagram() -> str:
    return mermaid(PV.STATES, PV.TRANSITIONS, [("power on", PV.IDLE)])


# Each generated block: its name in the BEGIN and END markers, and what draws it.
DIAGRAMS = (
    ("detector state diagram", detector_diagram),
    ("trip latch diagram", latch_diagram),
    ("pulse valve diagram", pulse_diagram),
    ("airflow diagram", airflow_diagram),
    ("pressure proving diagram", proving_diagram),
)


def markers(name: str) -> tuple[str, str]:
    return "<!-- BEGIN generated: %s -->" % name, "<!-- END generated: %s -->" % name


def render_block(text: str, name: str, draw) -> str:
    begin, end = markers(name)
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    return text[:start] + "\n" + draw() + "\n" + text[stop:]


def render(text: str) -> str:
    for name, draw in DIAGRAMS:
        text = render_block(text, name, draw)
    return text


def stale(text: str) -> list[str]:
    """The names of the blocks in `text` that differ from what the tables draw."""
    return [name for name, draw in DIAGRAMS if render_block(text, name, draw) != text]


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    if "--check" in argv:
        names = stale(current)
        if names:
            print("docs/safety.md: %s stale; run python -m gaslatch_tools.safety_diagram" % (
                " and ".join(names) + (" is" if len(names) == 1 else " are")))
            return 1
        return 0
    DOC.write_text(render(current), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
