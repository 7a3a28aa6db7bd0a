"""What the event store says of its health, with what to do: why it cannot be opened (StoreError), why commits
fail, what its start-up check found (status "store"). English here (the record); the phrasebook
(gaslatch/recorded_text.py) reads it in the reader's language. A module of its own so that the unit's `run` does not
load the phrasebook to say it (standard library only)."""

from gaslatch.translation import N_

STORE_WRITE_ERROR = N_("cannot write: %(error)s (%(hint)s)")
STORE_WRITE_HINTS = (N_("another process is writing the file: stop it"), N_("free space on the SD card"),
                     N_("the file must be writable by the gaslatch user"),
                     N_("retrying: if it persists, stop gaslatch and check the file with gaslatch events"))
STORE_DAMAGED = N_("damaged: %(problems)s")  # SQLite's own words, joined by " / "

# Why the store cannot be opened or used, and what to do: StoreError's (problem, hint) pairs
# (gaslatch/unit/event_store.py). A unit whose store could not be opened reports "event store PATH: PROBLEM; HINT"
# (STORE_ERROR) in its status; the phrasebook reads it part by part at "; " (STORE_WHERE is the first part), so no
# problem or hint holds "; ".
STORE_ERROR = N_("event store %(path)s: %(problem)s; %(hint)s")
STORE_WHERE = N_("event store %(path)s: %(problem)s")
_NEW_STORE = N_("the file is damaged or is not an SQLite database: stop gaslatch, move it aside with its -wal and -shm "
                "files (mkdir %(directory)s/damaged && mv %(file)s* %(directory)s/damaged/) and start gaslatch again, "
                "which creates a new empty store, and keep the damaged files for the record")
EMPTY = (N_("the file is empty, not an event store yet"), N_("give the unit's store (config store.path) with --store PATH"))
NO_SUCH_FILE = (N_("no such file"), N_("give the unit's store with --store PATH or --config FILE"))
DIRECTORY_GIVEN = (N_("is a directory"),
                   N_("give the store's file (config store.path), not its directory, with --store PATH"))
DIRECTORY_CONFIGURED = (N_("is a directory"), N_("set store.path to a file name, e.g. /var/lib/gaslatch/events.db"))
CLOSED = (N_("closed"), N_("acknowledge before closing the store"))
ACK_LATE = (N_("could not record the acknowledgement within %(seconds).1f s (%(why)s)"),
            N_("it is retried; see gaslatch status"))
NO_LOCK_FILE = (N_("cannot open its lock file %(lock)s: %(error)s"),
                N_("the directory %(directory)s must be writable by the user gaslatch runs as"))
IN_USE = (N_("another gaslatch process is writing this store"),
          N_("stop it first (systemctl stop gaslatch) or give this one its own store.path"))
NO_DIRECTORY = (N_("cannot create the directory %(directory)s: %(error)s"),
                N_("create it for the gaslatch user: install -d -o gaslatch -g gaslatch -m 0750 %(directory)s"))
NO_FILE = (N_("cannot create the file: %(error)s"), N_("the directory must be writable by the user gaslatch runs as"))
NO_WAL = (N_("cannot use write-ahead logging (journal mode stays %(mode)s)"),
          N_("put the store on a local file system (the SD card), not a network share"))
NOT_OURS = (N_("is an SQLite database but not a gaslatch event store"),
            N_("set store.path to a file of its own (this one was left unchanged)"))
NEWER = (N_("was written by a newer gaslatch (store schema %(version)d, this version reads %(reads)d)"),
         N_("install that gaslatch version again, or move the file aside to start a new store (the file was left "
            "unchanged)"))
UNKNOWN_SCHEMA = (N_("has an unknown store schema %(version)d"),
                  N_("move the file aside to start a new store (the file was left unchanged)"))
NO_TABLES = (N_("is missing its tables (has: %(tables)s)"), _NEW_STORE)
NO_ACCESS = (N_("cannot be opened: %(error)s"),
             N_("the file and its directory must be readable (and, for the unit, writable) by the user gaslatch runs "
                "as: chown gaslatch:gaslatch and mode 0640 for the file, 0750 for the directory"))
LOCKED = (N_("is locked by another process: %(error)s"), N_("stop the other process and try again"))
FULL = (N_("cannot be written: %(error)s"), N_("free space on the SD card"))
UNREADABLE = (N_("cannot be read: %(error)s"), _NEW_STORE)
# What a store that cannot be opened says (the unit's status, gaslatch events); CLOSED and ACK_LATE come from
# acknowledging and reach only the journal.
STORE_ERRORS = (EMPTY, NO_SUCH_FILE, DIRECTORY_GIVEN, DIRECTORY_CONFIGURED, NO_LOCK_FILE, IN_USE, NO_DIRECTORY,
                NO_FILE, NO_WAL, NOT_OURS, NEWER, UNKNOWN_SCHEMA, NO_TABLES, NO_ACCESS, LOCKED, FULL, UNREADABLE)
