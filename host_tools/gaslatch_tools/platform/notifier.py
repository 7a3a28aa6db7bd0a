"""The notifier (`gaslatch platform notify`): tells people of warnings through Apprise (mail, webhooks, IM robots,
SMS and voice gateways), again until someone acknowledges, escalating tier by tier.

Each pass (every few seconds) opens and clears the warnings of units offline or silent (liveness.py) and of work
orders overdue (overdue.py), plans the rounds now due, claims due notices under a lease (so several notifiers on
one database send each once), sends them and records every attempt; a channel that fails is tried again with a
back-off. Time comes from an injected clock.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import os
import socket
import threading
import time
from typing import Callable

import apprise

from gaslatch.core import events as E
from gaslatch import recorded_text
from gaslatch.translation import CHINESE, N_
from gaslatch_tools.platform import liveness as L
from gaslatch_tools.platform import overdue as OV
from gaslatch_tools.platform import readings as RD
from gaslatch_tools.platform import warning_store as WS
from gaslatch_tools.platform import words
from gaslatch_tools.platform import work_orders as WO
from gaslatch_tools.platform.contacts import Contacts, Recipient
from gaslatch_tools.platform.rules import Rules
from gaslatch_tools.platform.storage import SqlStorage

log = logging.getLogger("gaslatch.platform.notifier")

POLL_S = 0.2  # how often an idle notifier looks for due rounds and notices: the first notice's latency
LEASE_S = 60.0  # a claimed notice is another notifier's to send only after this (its sender died)
CLAIM_MAX = 32  # notices claimed at a time...
CLAIMS_PER_STEP = 50  # ...and at most this many times per step (1,600 notices)
SENDERS = 8  # notices handed to their channels at once: each waits on a mail server or a gateway, not the CPU
MAX_TITLE_CHARS = 120
MAX_BODY_CHARS = 1200  # an SMS gateway or robot may cut it shorter still; the start says what matters
MAX_ERROR_CHARS = 500
# What the platform observes itself, checked every liveness.CHECK_EVERY_MS in one transaction: each check(execute,
# rules, now_ms) opens and clears its warnings (warning_store.observe_in).
CHECKS = (WS.liveness_in, OV.check_in, RD.prune_in)
NOTICE_GRADES = {1: N_("grade 1 warning"), 2: N_("grade 2 warning"), 3: N_("grade 3 warning")}
# A notice's lines, each written once in Chinese and once in English (the Chinese block first).
NOTICE_LINES = (
    N_("%(grade)s: %(title)s"),
    N_("Site: %(where)s"),
    N_("Cause: %(cause)s"),
    N_("Since: %(since)s"),
    N_("Count: %(count)d"),
    N_("Latest event: %(latest)s"),
)
# TRANSLATORS: the event's detail as the unit recorded it, in the notice's language where gaslatch.recorded_text
# knows it.
NOTICE_DETAIL = N_("Detail: %(detail)s")
NOTICE_ADVICE = N_("What to do: %(advice)s")
NOTICE_ACK = N_("Acknowledge: gaslatch platform ack %(warning)d --user YOUR_NAME (to %(to)s)")

# send(url, title, body) -> None when the channel took it, else what went wrong.
Send = Callable[[str, str, str], "str | None"]


def apprise_send(url: str, title: str, body: str) -> str | None:
    """Hands one notice to the channel an Apprise URL names; None when it accepted it, else why not."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return "Apprise does not accept this URL (check its scheme and parameters)"
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
        try:
            ok = sender.notify(title=title, body=body)
        except Exception as err:  # a plugin's bug must not stop the notifier: the notice is tried again
            return "Apprise raised %r" % err
    if ok:
        return None
    return captured.getvalue().strip().replace("\n", "; ") or "the channel refused it"


def clip(text: str, max_chars: int) -> str:
    """Any text made safe for every channel (escaped as events are: no NUL, no lone surrogate) and bounded."""
    return E.safe_text(text if isinstance(text, str) else str(text), max_chars)


def local_time(ms: int, tz: datetime.tzinfo) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")


def render(notice: WS.Claimed, rules: Rules, contacts: Contacts) -> tuple[str, str]:
    """(title, body) of a notice: the Chinese first (a duty officer in China reads it), then the same in English:
    grade and what, where, since when, how often, the latest event's headline, what to do, how to acknowledge.
    Every piece from an event is escaped and clipped, then the whole (the English last: the bound cuts it first)."""
    title_zh, title_en = (clip(t, 200) for t in words.rule_title(rules.by_name, notice.rule))
    grade_zh, grade_en = words.both(NOTICE_GRADES[notice.grade]) if notice.grade in NOTICE_GRADES else \
        words.both(N_("grade %(grade)s warning"), grade=notice.grade)
    where = "%s/%s" % (clip(notice.site, 64), clip(notice.unit, 64))
    again_zh, again_en = ("", "") if notice.round == 1 else (
        " [%s]" % text for text in words.both(N_("notice %(round)d"), round=notice.round))
    title = clip("【%s】%s：%s%s · %s: %s%s" % (grade_zh, title_zh, where, again_zh, grade_en, title_en, again_en),
                 MAX_TITLE_CHARS)
    tz = rules.tz
    since = "%s (%s)" % (local_time(notice.opened_ms, tz), getattr(tz, "key", "UTC"))
    latest = words.summary_event(notice.summary)
    if latest is None:
        headline_zh = headline_en = clip(notice.summary, WS.MAX_SUMMARY_CHARS)
        detail = ""
    else:
        headline_zh, headline_en = words.headlines(latest)
        detail = clip(latest["reason"], WS.MAX_SUMMARY_CHARS)
    details = {"en": detail, "zh": "" if latest is None else clip(
        recorded_text.translate(latest["reason"], words.in_language(CHINESE).gettext), WS.MAX_SUMMARY_CHARS)}
    values = {"grade": grade_zh, "title": title_zh, "where": where, "cause": clip(notice.cause, 200),
              "since": since, "count": notice.count, "latest": headline_zh,
              "warning": notice.warning_id, "to": clip(contacts.name(notice.person), 100)}
    rule = rules.by_name.get(notice.rule)
    lines = []
    for language, grade, title_, latest_ in (("zh", grade_zh, title_zh, headline_zh),
                                             ("en", grade_en, title_en, headline_en)):
        gettext = words.in_language(language).gettext
        fill = dict(values, grade=grade, title=title_, latest=latest_, detail=details[language])
        lines += [gettext(line) % fill for line in NOTICE_LINES]
        if detail:
            lines.append(gettext(NOTICE_DETAIL) % fill)
        if rule is not None:
            lines.append(gettext(NOTICE_ADVICE) % {"advice": rule.advice[language]})
        lines.append(gettext(NOTICE_ACK) % fill)
        lines.append("")
    body = "\n".join(lines).strip()  # each line's pieces are safe already; only these newlines join them
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS - 20] + "...(+%d chars)" % (len(body) - MAX_BODY_CHARS + 20)
    return title, body


def default_instance() -> str:
    """Who holds a lease, as the attempts record it: host name and process id."""
    return "%s-%d" % (socket.gethostname()[:40], os.getpid())


class Notifier:
    """One notifier instance over one database: step() does one round of work (the claimed notices handed to their
    channels by `senders` threads at once); run() steps until stop()."""

    def __init__(self, storage: SqlStorage, rules: Rules, contacts: Contacts, instance: str | None = None,
                 clock: Callable[[], float] = time.time, send: Send = apprise_send, poll_s: float = POLL_S,
                 lease_s: float = LEASE_S, senders: int = SENDERS):
        self.storage = storage
        self.rules = rules
        self.contacts = contacts
        self.instance = instance or default_instance()
        self.clock = clock
        self.send = send
        self.poll_s = poll_s
        self.lease_ms = int(lease_s * 1000)
        self.counts = {"sent": 0, "failed": 0, "errors": 0}
        self._counts_lock = threading.Lock()
        self.senders = senders
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checks_due_ms = 0
        WO.prepare(storage)  # the warnings' tables, and the work orders' the overdue check reads

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def step(self) -> int:
        """Runs the CHECKS (every liveness.CHECK_EVERY_MS), plans the due rounds, then sends every due notice it can
        claim; returns the notices it tried."""
        now_ms = self._now_ms()
        if now_ms >= self._checks_due_ms:  # before planning: a silence or an overdue order seen now is told now
            self._checks_due_ms = now_ms + L.CHECK_EVERY_MS
            self.storage.write(lambda x: [check(x, self.rules, now_ms) for check in CHECKS])
        WS.plan_due(self.storage, self.rules, self.contacts, now_ms)
        tried = 0
        for _ in range(CLAIMS_PER_STEP):  # bounded: a step never spins on notices that fall due at once again
            if self._stop.is_set():
                break
            claimed = WS.claim(self.storage, self.instance, self._now_ms(), self.lease_ms, CLAIM_MAX)
            if not claimed:
                break
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.senders, thread_name_prefix="notice")
            attempts = list(self._pool.map(self._attempt, claimed))
            WS.record(self.storage, self.instance, attempts)
            for a in attempts:
                self._count("sent" if a.error is None else "failed")
            tried += len(claimed)
        return tried

    def _attempt(self, notice: WS.Claimed) -> WS.Attempt:
        """Hands one notice to its channel; what happened, never an exception."""
        url = self.contacts.url(Recipient(notice.person, notice.channel))
        if url is None:
            return WS.Attempt(notice, "no channel %s of %s in %s" % (notice.channel, notice.person,
                                                                    self.contacts.source), self._now_ms(), 0, True)
        start = time.monotonic()
        try:
            title, body = render(notice, self.rules, self.contacts)
            error = self.send(url, title, body)
        except Exception as err:  # never stops the notifier: recorded, and the notice tried again
            log.exception("notice %d", notice.id)
            error = "could not send: %r" % err
        duration_ms = int((time.monotonic() - start) * 1000)
        if error is not None:
            error = clip(error, MAX_ERROR_CHARS)
            log.warning("notice %d of warning %d to %s/%s failed: %s", notice.id, notice.warning_id, notice.person,
                        notice.channel, error)
        return WS.Attempt(notice, error, self._now_ms(), duration_ms)

    def _count(self, key: str) -> None:
        with self._counts_lock:
            self.counts[key] += 1

    def run(self) -> None:
        """Steps until stop(); a database that fails is tried again on the next poll."""
        while not self._stop.is_set():
            try:
                tried = self.step()
            except Exception:
                self._count("errors")
                log.exception("notifier pass failed; trying again")
                tried = 0
            if not tried:
                self._stop.wait(self.poll_s)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="platform-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
