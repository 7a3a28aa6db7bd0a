"""What the event store's health says while commits fail, and after its start-up check (status "store"), with what
to do: English here (the record), and the phrasebook (gaslatch/recorded_text.py) reads it in the reader's language.
A module of its own so that the unit's `run` does not load the phrasebook to say it (standard library only)."""

from gaslatch.translation import N_

STORE_WRITE_ERROR = N_("cannot write: %(error)s (%(hint)s)")
STORE_WRITE_HINTS = (N_("another process is writing the file: stop it"), N_("free space on the SD card"),
                     N_("the file must be writable by the gaslatch user"),
                     N_("retrying: if it persists, stop gaslatch and check the file with gaslatch events"))
STORE_DAMAGED = N_("damaged: %(problems)s")  # SQLite's own words, joined by " / "
