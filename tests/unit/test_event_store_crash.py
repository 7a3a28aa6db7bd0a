"""Power cut at any instant: a writer process is SIGKILLed at random moments, over and over, on one
store file; every event it reported as recorded must then be there, intact, numbered without a gap."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from gaslatch.core import events as E
from gaslatch.unit.event_store import EventStore
from tests.unit.store_writer_child import expected_record
from gaslatch_tools.testing.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 25
BUDGET_S = 25.0  # all rounds together; once the minimum below is met, the test starts no round after it
MIN_ROUNDS_WITH_REPORTS = ROUNDS // 2
MIN_REPORTED = 101
FIRST_REPORT_TIMEOUT_S = 10.0
KILL_DURING_START_EVERY = 4  # every 4th round is killed on a timer from spawn (opening, creating the schema)


class Writer:
    """One child process and the complete stdout lines it wrote before it died."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.unit.store_writer_child", str(path)],
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.data = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            self.data += chunk

    def reported(self) -> list[dict]:
        """Complete lines only: a line cut by the kill was never fully reported."""
        return [json.loads(line) for line in self.data.split(b"\n")[:-1]]

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join()
        return self.proc.stderr.read().decode(errors="replace")


def test_every_event_reported_as_recorded_survives_sigkill_at_random_moments(tmp_path):
    seed = random.randrange(2 ** 32)
    rng = random.Random(seed)
    path = tmp_path / "events.db"
    reported: dict[int, dict] = {}
    rounds_with_reports = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        # The budget only ends a run that has already seen enough: on a loaded machine a round (a child's start
        # with its imports, its first report) takes seconds, and cutting at the budget alone left too few rounds.
        enough = rounds_with_reports >= MIN_ROUNDS_WITH_REPORTS and len(reported) >= MIN_REPORTED
        if enough and time.monotonic() - started > BUDGET_S:
            break
        writer = Writer(path)
        if round_no % KILL_DURING_START_EVERY == KILL_DURING_START_EVERY - 1:
            kill_at = time.monotonic() + rng.uniform(0.0, 0.4)
        else:
            wait_until(lambda: b"\n" in writer.data or writer.proc.poll() is not None, FIRST_REPORT_TIMEOUT_S,
                       what="the writer's first recorded event (seed %d)" % seed)
            kill_at = time.monotonic() + rng.uniform(0.0, 0.3)
        assert writer.proc.poll() is None, "writer died by itself: %s" % writer.proc.stderr.read().decode()
        time.sleep(max(0.0, kill_at - time.monotonic()))  # the random instant of the power cut
        errors = writer.kill()
        assert "Traceback" not in errors, errors
        lines = writer.reported()
        rounds_with_reports += bool(lines)
        for line in lines:
            assert line["seq"] not in reported, "seq %d reported twice (seed %d)" % (line["seq"], seed)
            reported[line["seq"]] = line

    assert rounds_with_reports >= MIN_ROUNDS_WITH_REPORTS and len(reported) >= MIN_REPORTED, (
        rounds_with_reports, len(reported))
    with sqlite3.connect(str(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        columns = ("seq",) + E.FIELDS[1:] + ("wall_ts", "clock_synced", "id")
        rows = {row[0]: dict(zip(columns, row)) for row in
                db.execute("SELECT %s FROM events ORDER BY seq" % ", ".join(columns))}
    missing = sorted(set(reported) - set(rows))
    assert not missing, "reported as recorded but gone: %s (seed %d)" % (missing[:10], seed)
    for seq, line in reported.items():
        row = rows[seq]
        assert {key: row[key] for key in E.FIELDS} == expected_record(seq), "seq %d damaged (seed %d)" % (seq, seed)
        assert (row["wall_ts"], bool(row["clock_synced"])) == (line["wall_ts"], line["clock_synced"]), seq
    assert sorted(rows) == list(range(1, len(rows) + 1)), "numbering has a gap or starts wrong (seed %d)" % seed
    assert len({row["id"] for row in rows.values()}) == len(rows)

    store = EventStore(str(path), 1000000)
    try:
        assert store.next_seq() == len(rows) + 1
        assert os.stat(path).st_mode & 0o777 == 0o640
    finally:
        store.close()
