"""The live view's plain twin for a log, CI or a dumb terminal: one line per controller event and bench action.

Like LiveView it only reads the run's state (the journal, the trace), so it cannot change what happens.
"""

from __future__ import annotations

import threading

from gaslatch.translation import _
from gaslatch_tools.bench.trace import parse_journal_event
from gaslatch_tools.bench.words import action_text, event_line, shown

REFRESH_S = 0.25


class ProgressLines:
    """Prints what `run` (a BenchRun) does as it happens, until stop(); same interface as LiveView."""

    def __init__(self, run, console) -> None:
        self.run = run
        self.console = console
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._journal_seen = 0
        self._actions_seen = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-progress-lines", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3)
        self._print_new()  # whatever came in since the last look

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self._print_new()

    def _print_new(self) -> None:
        """What came in since the last look, in time order: bench actions and controller events together."""
        run = self.run
        new: list[tuple[float, str]] = []
        actions = list(run.trace.actions)
        for action in actions[self._actions_seen:]:
            new.append((action["t_s"], _("bench: %(action)s %(detail)s") % {
                "action": action_text(action), "detail": shown(action.get("detail"))}))
        self._actions_seen = len(actions)
        if hasattr(run, "controller"):
            lines = run.controller.journal_lines()
            for line in lines[self._journal_seen:]:
                record = parse_journal_event(line)
                if record is not None and record["type"] != "output":
                    new.append((record["t_ms"] / 1000.0 - run.t0, event_line(record)))
            self._journal_seen = len(lines)
        for t_s, text in sorted(new, key=lambda item: item[0]):
            self.console.print("t=%6.1f s  %s" % (t_s, text.rstrip()), highlight=False, markup=False)

