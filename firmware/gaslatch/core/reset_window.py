"""The reset window: who asked for a reset and is waiting to hear what the RESET button did.

A reset asked for by command (`gaslatch reset`, later the kitchen panel) resets nothing: the person
is told to press the RESET button on the unit, and this keeps the request open for
control.reset_window_s. The button alone decides (safety.py judges every press, asked for or not);
each scan the controller hands this window what the latest press came to, and every waiting request
gets that outcome, or "expired" once its window has run out. Kept in the core, driven by `now_ms`,
so a MicroPython port has it too.
"""

ACCEPTED = "accepted"
REFUSED = "refused"
EXPIRED = "expired"
WAITING = "waiting_for_button"


class ResetWindow:
    """Open requests by ticket; `follow()` once per scan returns the (ticket, outcome) pairs now settled."""

    def __init__(self, window_s):
        self.window_s = window_s
        self._waiting = []  # (ticket, deadline_ms), oldest first
        self._next_ticket = 1

    def open(self, now_ms):
        """A new request waiting for the button: its ticket (an int, never reused)."""
        ticket = self._next_ticket
        self._next_ticket += 1
        self._waiting.append((ticket, now_ms + self.window_s * 1000))
        return ticket

    @property
    def waiting(self):
        """How many requests are waiting for the button."""
        return len(self._waiting)

    def follow(self, now_ms, press):
        """press: the latest scan's reset outcome from Safety (None when the button was not pressed),
        e.g. {"state": "accepted"} or {"state": "refused", "reasons": [...]}.

        Returns [(ticket, outcome dict)] for every request settled now: all of them on a press, the
        expired ones otherwise.
        """
        if not self._waiting:
            return []
        settled = []
        still = []
        for ticket, deadline_ms in self._waiting:
            if press is not None:
                settled.append((ticket, dict(press)))
            elif now_ms >= deadline_ms:
                settled.append((ticket, {"state": EXPIRED}))
            else:
                still.append((ticket, deadline_ms))
        self._waiting = still
        return settled
