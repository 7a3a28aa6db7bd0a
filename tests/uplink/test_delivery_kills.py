"""Nothing lost when any part dies: the broker, the platform's receiver and the unit SIGKILLed at random moments.

Real processes throughout: mosquitto with the production configuration (deploy/mosquitto), `gaslatch
platform` storing into SQLite or PostgreSQL, and a unit (tests/uplink/uplink_unit_child.py: the real event
store and uplink) recording a backlog while the kills go on. Afterwards the platform must hold every event
the unit recorded, each once, under the same seq and id, and the unit must know the platform has them.

GASLATCH_KILL_ROUNDS sets the broker kills per database (default 24; a nightly run takes 500).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gaslatch_tools.platform.receiver import open_storage
from gaslatch_tools.testing.broker import Broker
from gaslatch_tools.testing.waiting import wait_until
from tests.uplink import uplink_unit_child as child

REPO = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("GASLATCH_KILL_ROUNDS", "24"))
RATE = 400  # events a second recorded by the unit while the kills go on
PAUSE_S = (0.15, 0.9)  # a kill every so often, at a random moment
RECEIVER_EVERY = 4  # every 4th round the receiver dies too
UNIT_EVERY = 5  # every 5th round the unit (a power cut)
DRAIN_S = 120.0
PLATFORM_USER = "gaslatch-platform"  # after the last kill, everything must be at the platform within this


class Process:
    """A child process that can be SIGKILLed and started again with the same command."""

    def __init__(self, argv: list[str], log: Path):
        self.argv = argv
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def unit_rows(path: Path) -> dict[int, tuple[str, int]]:
    """seq -> (id, delivered) of every event the unit recorded (read-only, beside the running writer)."""
    with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10) as db:
        return {seq: (id_, delivered) for seq, id_, delivered in db.execute("SELECT seq, id, delivered FROM events")}


def platform_rows(db: str) -> list[tuple[int, str]]:
    """(seq, id) of every event the platform stored for the kill test's unit."""
    storage = open_storage(db)
    try:
        return [(row[3], row[2]) for row in storage.iter_events() if row[:2] == (child.SITE, child.UNIT)]
    finally:
        storage.close()


def kill_loop(db: str, tmp_path: Path, rounds: int, seed: int) -> dict:
    rng = random.Random(seed)
    total = rounds * 250  # about as many as the unit records during the rounds: a backlog throughout
    unit_user = "%s/%s" % (child.SITE, child.UNIT)  # as docs/broker.md has it: the ACL's patterns need it
    broker = Broker(str(tmp_path), passwords={unit_user: "unit secret", PLATFORM_USER: "platform secret"},
                    acl=True).start()
    secrets = {}
    for name, secret in (("unit", "unit secret"), ("platform", "platform secret")):
        secrets[name] = tmp_path / ("%s.password" % name)
        secrets[name].write_text(secret + "\n")
        secrets[name].chmod(0o600)
    receiver = Process([sys.executable, "-m", "gaslatch_tools.cli", "platform", "--broker",
                        "%s:%d" % (broker.host, broker.port), "--db", db, "--client-id", "kill-platform",
                        "--username", PLATFORM_USER, "--password-file", str(secrets["platform"]), "--verbose"],
                       tmp_path / "receiver.log").start()
    store = tmp_path / "unit-events.db"
    unit = Process([sys.executable, "-m", "tests.uplink.uplink_unit_child", str(store), broker.host,
                    str(broker.port), str(total), str(RATE), unit_user, str(secrets["unit"])],
                   tmp_path / "unit.log").start()
    kills = {"broker": 0, "receiver": 0, "unit": 0}
    try:
        for index in range(rounds):
            time.sleep(rng.uniform(*PAUSE_S))  # a random moment of the backlog: nothing here waits on a state
            victims = [broker]
            if index % RECEIVER_EVERY == RECEIVER_EVERY - 1:
                victims.append(receiver)
            if index % UNIT_EVERY == UNIT_EVERY - 1:
                victims.append(unit)
            rng.shuffle(victims)
            for victim in victims:
                victim.kill()
                kills["broker" if victim is broker else "receiver" if victim is receiver else "unit"] += 1
            for victim in victims:
                victim.start()  # the broker on the same port, from what it had saved
        wait_until(lambda: len(unit_rows(store)) >= total, DRAIN_S, what="the unit recorded all %d events" % total)
        recorded = unit_rows(store)
        started = time.monotonic()
        wait_until(lambda: len(platform_rows(db)) >= len(recorded) and all(
            delivered for _, delivered in unit_rows(store).values()), DRAIN_S,
            what="every event at the platform and acknowledged to the unit (unit log: %s, receiver log: %s)"
                 % (tmp_path / "unit.log", tmp_path / "receiver.log"))
        drained_s = time.monotonic() - started
        stored = platform_rows(db)
    finally:
        unit.stop()
        receiver.stop()
        broker.stop()
    return {"kills": kills, "recorded": recorded, "stored": stored, "drained_s": drained_s}


@pytest.mark.parametrize("seed", [1])
def test_broker_receiver_and_unit_killed_at_random_lose_nothing(platform_db, tmp_path, seed):
    result = kill_loop(platform_db, tmp_path, ROUNDS, seed)
    recorded, stored = result["recorded"], result["stored"]

    assert result["kills"]["broker"] >= 20
    by_seq = {}
    for seq, id_ in stored:
        assert by_seq.setdefault(seq, id_) == id_, "seq %d stored under two ids" % seq
    missing = sorted(set(recorded) - set(by_seq))
    assert missing == [], "%d events never reached the platform: %s" % (len(missing), missing[:20])
    assert len(stored) == len(by_seq), "an event was stored twice"
    assert {seq: id_ for seq, (id_, _) in recorded.items()} == by_seq  # same seq, same id: order preserved
    print("kills %r: %d events, 0 lost, drained %.1f s after the last kill" % (
        result["kills"], len(recorded), result["drained_s"]))
