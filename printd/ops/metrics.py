"""Prometheus metrics of one station: collected at scrape time, plus a few event-driven histograms.

No personal data, ever: no name, NIK, request_id or job id appears in a label or a value. Labels are
bounded sets (printer names from the config, card types, states, IPP reason keywords, route templates).

Every series carries `station` (`[station] name`): a province's Prometheus scrapes many stations
through local agents or federation, where the target's own `instance` says little (printd listens on
127.0.0.1), and a label the station sets itself survives relabelling, federation and remote-write.

A scrape reads the database on the station's database thread (`await station.db(...)`, a handful of
indexed queries, see `printd.queue.aggregates`) and then renders on the event loop from that snapshot
and the workers' in-memory state; the loop never waits on SQLite.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from printd import __version__
from printd.blangko.forecast import WorkingHours
from printd.config import CARD_TYPES
from printd.drivers.base import PrinterState, Reason
from printd.events import Event
from printd.notify.outbox import Backlog, Outbox
from printd.queue.aggregates import Aggregates, Snapshot, days_left
from printd.queue.models import JobState

if TYPE_CHECKING:
    from printd.station import Station

PRINTER_STATES = tuple(s.value for s in PrinterState)
REASONS = tuple(r.value for r in Reason)
JOB_STATES = tuple(s.value for s in JobState)
#: why a card was spoiled, as attempts record it: a reason keyword, or who settled a card in doubt
SPOIL_REASONS = frozenset(REASONS) | {"counter", "operator", "late-answer"}

TIME_TO_PRINT_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
CLAIM_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _ts(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


class StationCollector:
    """Renders the latest snapshot and the printers' live state as metric families."""

    def __init__(self, station: Station, name: str) -> None:
        self.station = station
        self.name = name
        self.snapshot: Snapshot | None = None
        self.webhooks: Backlog | None = None
        self.hours = WorkingHours(station.settings.station)

    def _gauge(self, name: str, doc: str, *labels: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=["station", *labels])

    def collect(self) -> Iterator[Metric]:
        st = self.name
        info = self._gauge("printd_build_info", "printd version (always 1)", "version")
        info.add_metric([st, __version__], 1)
        yield info
        yield self._open()
        yield self._tasks()
        yield from self._printers()
        snap = self.snapshot
        if snap is not None:
            yield from self._jobs(snap)
            yield from self._cards(snap)
            yield from self._blangko(snap)
        if self.webhooks is not None:
            yield from self._webhooks(self.webhooks)

    # ------------------------------------------------------------------ the station itself

    def _open(self) -> Metric:
        # alerts on a stopped or offline printer only matter while the office works: at night the
        # printers are switched off on purpose
        now = self.station.clock.now()
        opens, closes = self.hours.bounds(self.hours.day_of(now))
        is_open = self.hours.is_working_day(self.hours.day_of(now)) and opens <= now < closes
        gauge = self._gauge("printd_station_open", "1 during the station's working hours ([station] working_days, "
                            "opens, closes)")
        gauge.add_metric([self.name], 1 if is_open else 0)
        return gauge

    def _tasks(self) -> Metric:
        # the contract with task supervision: `Station.task_health() -> dict[str, bool]`, task name ->
        # running normally, read from memory (it runs on the event loop at every scrape); a station
        # without supervision exports the family empty
        health = getattr(self.station, "task_health", None)
        tasks: dict[str, bool] = health() if callable(health) else {}
        gauge = self._gauge("printd_task_up", "1 while the station's supervised background task runs normally, "
                            "0 while it is failing", "task")
        for task, ok in sorted(tasks.items()):
            gauge.add_metric([self.name, task], 1 if ok else 0)
        return gauge

    def _webhooks(self, backlog: Backlog) -> Iterator[Metric]:
        st = self.name
        pending = self._gauge("printd_webhook_backlog", "Webhook notifications not delivered yet and still tried")
        pending.add_metric([st], backlog.pending)
        failing = self._gauge("printd_webhook_failing", "Of the backlog, notifications whose last attempt failed")
        failing.add_metric([st], backlog.failing)
        failed = self._gauge("printd_webhook_failed", "Notifications given up (until retried or purged)")
        failed.add_metric([st], backlog.failed)
        age = self._gauge("printd_webhook_oldest_pending_age_seconds",
                          "Age of the oldest notification in the backlog (0 when none)")
        age.add_metric([st], max(0.0, self.station.clock.now() - backlog.oldest_pending_at) if backlog.oldest_pending_at else 0.0)
        yield from (pending, failing, failed, age)

    # ------------------------------------------------------------------ from the database snapshot

    def _jobs(self, snap: Snapshot) -> Iterator[Metric]:
        st = self.name
        jobs = self._gauge("printd_jobs", "Jobs in each state, by card type", "state", "card_type")
        counts = dict.fromkeys(((s, c) for s in JOB_STATES for c in CARD_TYPES), 0)
        counts.update(snap.jobs)
        for (state, card_type), n in sorted(counts.items()):
            jobs.add_metric([st, state, card_type], n)
        yield jobs
        depth = self._gauge("printd_queue_depth", "Jobs queued (waiting for a printer; held jobs not counted)")
        depth.add_metric([st], sum(n for (state, _), n in snap.jobs.items() if state == JobState.QUEUED))
        yield depth
        age = self._gauge("printd_queue_oldest_age_seconds", "Age of the oldest queued job (0 when none)")
        age.add_metric([st], max(0.0, snap.at - snap.oldest_queued_at) if snap.oldest_queued_at else 0.0)
        yield age
        overdue = self._gauge("printd_retention_overdue_jobs",
                              "Final jobs past the retention window that still hold a name, NIK or images")
        overdue.add_metric([st], snap.retention_overdue)
        yield overdue
        cost = self._gauge("printd_metrics_collect_seconds", "Database time the last scrape took")
        cost.add_metric([st], snap.collect_s)
        yield cost

    def _cards(self, snap: Snapshot) -> Iterator[Metric]:
        st = self.name
        printed = CounterMetricFamily("printd_cards_printed", "Cards printed (attempts that ended printed)",
                                      labels=["station", "printer", "card_type"])
        spoiled = CounterMetricFamily("printd_cards_spoiled", "Blanks spoiled during an attempt",
                                      labels=["station", "printer", "card_type", "reason"])
        printed_today = self._gauge("printd_cards_printed_today", "Cards printed today (station day)",
                                    "printer", "card_type")
        spoiled_today = self._gauge("printd_cards_spoiled_today", "Blanks spoiled today (station day)",
                                    "printer", "card_type")
        base = dict.fromkeys(((p, c) for p in self.station.settings.printers for c in CARD_TYPES), 0)
        p_total, p_today, s_today = dict(base), dict(base), dict(base)
        s_total: dict[tuple[str, str, str], int] = {}
        for (printer, card_type, outcome, reason), n in snap.cards_total.items():
            if outcome == "printed":
                p_total[(printer, card_type)] = p_total.get((printer, card_type), 0) + n
            else:
                key = (printer, card_type, reason if reason in SPOIL_REASONS else "other")
                s_total[key] = s_total.get(key, 0) + n
        for (printer, card_type, outcome, _), n in snap.cards_today.items():
            target = p_today if outcome == "printed" else s_today
            target[(printer, card_type)] = target.get((printer, card_type), 0) + n
        for (printer, card_type), n in sorted(p_total.items()):
            printed.add_metric([st, printer, card_type], n)
        for (printer, card_type, reason), n in sorted(s_total.items()):
            spoiled.add_metric([st, printer, card_type, reason], n)
        for (printer, card_type), n in sorted(p_today.items()):
            printed_today.add_metric([st, printer, card_type], n)
        for (printer, card_type), n in sorted(s_today.items()):
            spoiled_today.add_metric([st, printer, card_type], n)
        yield from (printed, spoiled, printed_today, spoiled_today)

    def _blangko(self, snap: Snapshot) -> Iterator[Metric]:
        st = self.name
        cards = self._gauge("printd_blangko_cards", "Blank cards by the ledger, per location (safe, hopper:PRINTER)",
                            "card_type", "location")
        balances = dict.fromkeys(((loc, c) for loc in ("safe", *(f"hopper:{p}" for p in self.station.settings.printers))
                                  for c in CARD_TYPES), 0)
        balances.update(snap.balances)
        totals: dict[str, int] = dict.fromkeys(CARD_TYPES, 0)
        for (location, card_type), n in sorted(balances.items()):
            cards.add_metric([st, card_type, location], n)
            totals[card_type] = totals.get(card_type, 0) + n
        yield cards
        rate = self._gauge("printd_blangko_use_per_day",
                           "Blanks used a day (printed, spoiled, test) over the last 7 full station days",
                           "card_type")
        left = self._gauge("printd_blangko_days_left",
                           "Days until the station's blanks (safe + hoppers) run out at that rate", "card_type")
        for card_type in sorted(totals):
            per_day = snap.use_per_day.get(card_type, 0.0)
            rate.add_metric([st, card_type], per_day)
            remaining = days_left(totals[card_type], per_day)
            if remaining is not None:
                left.add_metric([st, card_type], remaining)
        yield rate
        yield left

    # ------------------------------------------------------------------ live printer state (event loop)

    def _printers(self) -> Iterator[Metric]:
        st = self.name
        state = self._gauge("printd_printer_state", "1 for the printer's current state", "printer", "state")
        reason = self._gauge("printd_printer_reason", "1 while the printer reports the IPP reason", "printer",
                             "reason")
        enabled = self._gauge("printd_printer_enabled", "1 when the printer is enabled (dispatching)", "printer")
        accepting = self._gauge("printd_printer_accepting", "1 when the printer accepts new jobs", "printer")
        seen = self._gauge("printd_printer_last_seen_timestamp_seconds", "When the printer last answered", "printer")
        remaining = self._gauge("printd_supply_remaining_prints", "Prints left on a supply", "printer", "supply")
        capacity = self._gauge("printd_supply_capacity_prints", "Prints a full supply gives", "printer", "supply")
        sensor = self._gauge("printd_hopper_sensor_cards", "Blanks in the hopper by the printer's own count",
                             "printer")
        # not `printd_printer_counter`: a metric name must not name a type (promtool check metrics)
        counter = self._gauge("printd_printer_reported_cards", "Cards by the printer's own counters", "printer",
                              "counter")
        for w in self.station.workers.values():
            current = w.state.value
            for s in PRINTER_STATES:
                state.add_metric([st, w.name, s], 1 if s == current else 0)
            active = {r.keyword for r in w.reasons}
            for r in sorted(set(REASONS) | active):
                reason.add_metric([st, w.name, r], 1 if r in active else 0)
            enabled.add_metric([st, w.name], 1 if w.enabled else 0)
            accepting.add_metric([st, w.name], 1 if w.accepting else 0)
            if w.last_seen_at is not None:
                seen.add_metric([st, w.name], w.last_seen_at)
            status = w.status
            if status is None:
                continue
            for supply_name, supply in (("ribbon", status.ribbon), ("film", status.film)):
                if supply is not None and supply.remaining is not None:
                    remaining.add_metric([st, w.name, supply_name], supply.remaining)
                if supply is not None and supply.capacity is not None:
                    capacity.add_metric([st, w.name, supply_name], supply.capacity)
            if status.hopper_count is not None:
                sensor.add_metric([st, w.name], status.hopper_count)
            for counter_name in ("fed", "printed", "since_cleaning"):
                value = getattr(status.counters, counter_name)
                if value is not None:
                    counter.add_metric([st, w.name, counter_name], value)
        yield from (state, reason, enabled, accepting, seen, remaining, capacity, sensor, counter)


class StationMetrics:
    """The app's metrics: its own registry, the scrape-time collector and the event-driven instruments."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.name = station.settings.station.name
        # one registry per app: tests build many apps in one process, and a global one would mix them
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StationCollector(station, self.name)
        self.registry.register(self.collector)
        self.time_to_print = Histogram(
            "printd_job_time_to_print_seconds", "Submission to first printed card, per job",
            ["station", "card_type", "priority"], buckets=TIME_TO_PRINT_BUCKETS, registry=self.registry)
        self.claim = Histogram(
            "printd_dispatch_claim_seconds", "Time to claim the next job for an idle printer (one transaction)",
            ["station", "printer"], buckets=CLAIM_BUCKETS, registry=self.registry)
        self.http = Histogram(
            "printd_http_request_duration_seconds", "API time to the response headers, by route template",
            ["station", "method", "route", "status"], buckets=HTTP_BUCKETS, registry=self.registry)
        self.faults = Counter(
            "printd_printer_faults", "Error reasons a printer began to report (counts clears-and-returns too)",
            ["station", "printer", "reason"], registry=self.registry)
        self._aggregates: Aggregates | None = None
        self._printed_seen: OrderedDict[str, None] = OrderedDict()   # job ids, in memory only, never exported
        self._reasons: dict[str, set[str]] = {}
        station.events.listen(self._on_event)
        station.claim_observers.append(self._on_claim)

    # ------------------------------------------------------------------ scrape

    async def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition text (or OpenMetrics when asked) and its content type."""
        snap, webhooks = await self.station.db(self._collect)
        # no await between setting and rendering: concurrent scrapes cannot mix snapshots
        self.collector.snapshot = snap
        self.collector.webhooks = webhooks
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def _collect(self) -> tuple[Snapshot, Backlog]:
        """Runs on the database thread."""
        database = self.station.database
        if self._aggregates is None or self._aggregates.db is not database:
            assert database is not None
            self._aggregates = Aggregates(database, self.station.clock)
        retention_s = self.station.settings.station.retention_days * 86400
        return self._aggregates.snapshot(retention_s=retention_s), Outbox(database).backlog()

    # ------------------------------------------------------------------ events

    def _on_claim(self, printer: str, seconds: float) -> None:
        self.claim.labels(self.name, printer).observe(seconds)

    def _on_event(self, ev: Event) -> None:
        if ev.type == "job":
            self._job_event(ev.data)
        elif ev.type == "printer":
            self._printer_event(ev.data)

    def _job_event(self, job: dict[str, Any]) -> None:
        if job.get("state") != JobState.PRINTED:
            return
        printed = [a for a in job.get("attempts", ()) if a.get("outcome") == "printed"]
        if len(printed) != 1 or job["id"] in self._printed_seen:
            return   # a reprint is not a new submission; an event seen twice counts once
        self._printed_seen[job["id"]] = None
        if len(self._printed_seen) > 2000:
            self._printed_seen.popitem(last=False)
        created, done = _ts(job.get("created_at")), _ts(job.get("printed_at"))
        if created is not None and done is not None:
            self.time_to_print.labels(self.name, job.get("card_type", ""), job.get("priority", "")).observe(
                max(0.0, done - created))

    def _printer_event(self, printer: dict[str, Any]) -> None:
        name = printer.get("name", "")
        errors = {d["keyword"] for d in printer.get("reason_details", ()) if d.get("severity") == "error"}
        errors.discard("paused")
        before = self._reasons.get(name, set())
        for keyword in errors - before:
            self.faults.labels(self.name, name, keyword if keyword in REASONS else "other").inc()
        self._reasons[name] = errors

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One API request (called by the HTTP middleware)."""
        self.http.labels(self.name, method, route, f"{status // 100}xx").observe(seconds)

