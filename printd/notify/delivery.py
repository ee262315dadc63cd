"""Webhook delivery: POSTs the outbox's notifications to each job's `callback_url`, signed.

One asyncio task reads due notifications (on the database thread), sends up to `MAX_IN_FLIGHT` of
them at once (never two of the same job: a job's next notification waits for the previous one's
success; never more than `MAX_PER_RECEIVER` to one receiver, so a receiver that hangs or fails
cannot hold every slot and delay other receivers' notifications), and books each result. Whatever
goes wrong in a send (a refused connection, a timeout, a URL the client cannot use) is one failed
attempt: backoff, then a final give-up. HTTP runs on the event loop with a timeout; the database thread
only sees short queries. A notification that keeps failing past `[webhooks] retry_for_s` is given
up: it shows in `GET /api/v1/webhooks/deliveries?state=failed`, in the job's `notifications`, and as
an `alert` event for the page.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from printd import __version__
from printd.access.accounts import Accounts
from printd.config import WebhookConfig
from printd.errors import NotFound
from printd.events import Event
from printd.notify import signature as webhook_signature
from printd.notify.outbox import Notification, Outbox, OutboxWriter, RetryPolicy, receiver_of
from printd.queue.models import Job

if TYPE_CHECKING:
    from fastapi import FastAPI

    from printd.station import Station

log = logging.getLogger("printd.notify.delivery")

MAX_IN_FLIGHT = 8
#: one receiver (scheme://host:port) never holds more than this many of the slots
MAX_PER_RECEIVER = 4
#: look at the outbox at least this often, even when nothing announced a change
IDLE_POLL_S = 5.0
PURGE_EVERY_S = 3600.0
#: pause after a result could not be written to the outbox
BOOKING_RETRY_S = 5.0
#: a webhook secret for a client, or None when the client has none (e.g. a page user)
SecretLookup = Callable[[str], "str | None"]


def policy_from(config: WebhookConfig) -> RetryPolicy:
    return RetryPolicy(initial_s=config.backoff_initial_s, max_s=config.backoff_max_s,
                       retry_for_s=config.retry_for_s)


class WebhookDelivery:
    """The delivery loop of one station."""

    def __init__(self, station: Station, outbox: Outbox, secrets: SecretLookup, config: WebhookConfig, *,
                 retention_s: float | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.station = station
        self.outbox = outbox
        self.secrets = secrets
        self.config = config
        self.policy = policy_from(config)
        self.retention_s = retention_s
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        #: job id -> receiver of its notification in flight
        self._receivers: dict[str, str] = {}
        self._last_purge = 0.0
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            transport=self._transport, timeout=httpx.Timeout(self.config.timeout_s), follow_redirects=False,
            # callbacks go to loopback or listed office hosts, never through a proxy from the environment
            trust_env=False, headers={"User-Agent": f"printd/{__version__}"},
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT))
        self.station.events.listen(self._on_event)
        self._task = self.station.supervisor.spawn("webhook-delivery", self._run)

    async def stop(self) -> None:
        """Stop sending. A POST cut short here is sent again at the next start, with the same event id."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._in_flight:
            # let nearly finished deliveries book their result, so fewer are sent twice
            await asyncio.wait(list(self._in_flight.values()), timeout=1.0)
            for task in list(self._in_flight.values()):
                task.cancel()
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """Look at the outbox now (a job changed, or an operator asked for a retry)."""
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        # job events are published after the change (and its notification) committed
        if event.type == "job":
            self._wake.set()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            timeout = IDLE_POLL_S
            try:
                await self._maybe_purge()
                await self._fill()
                timeout = await self._idle_time()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery: cannot read the outbox; trying again")
                timeout = 1.0
            if timeout > 0:
                # not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives just as the
                # event is set (deliveries set it all the time), and stop() would wait forever
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    def _full_receivers(self) -> list[str]:
        """Receivers that already have `MAX_PER_RECEIVER` notifications in flight."""
        counts: dict[str, int] = {}
        for r in self._receivers.values():
            counts[r] = counts.get(r, 0) + 1
        return [r for r, n in counts.items() if n >= MAX_PER_RECEIVER]

    def _load_due(self, now: float, limit: int, busy: list[str],
                  receivers: list[str]) -> list[tuple[Notification, str | None]]:
        """On the database thread: the due notifications with their clients' secrets."""
        due = self.outbox.due(now, limit, busy, per_receiver=MAX_PER_RECEIVER, in_flight=receivers)
        secrets: dict[str, str | None] = {}
        for n in due:
            if n.client not in secrets:
                secrets[n.client] = self.secrets(n.client)
        return [(n, secrets[n.client]) for n in due]

    async def _fill(self) -> None:
        free = MAX_IN_FLIGHT - len(self._in_flight)
        if free <= 0:
            return
        batch = await self.station.db(self._load_due, time.time(), free, list(self._in_flight),
                                      list(self._receivers.values()))
        for n, secret in batch:
            task = asyncio.create_task(self._deliver(n, secret), name=f"webhook-{n.event_id}")
            self._in_flight[n.job_id] = task
            self._receivers[n.job_id] = receiver_of(n.url)
            task.add_done_callback(functools.partial(self._done, n.job_id))

    def _done(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(job_id, None)
        self._receivers.pop(job_id, None)
        self._wake.set()

    async def _idle_time(self) -> float:
        """Seconds until something is due (new notifications wake the loop earlier)."""
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            return IDLE_POLL_S  # a finishing delivery wakes the loop
        nxt = await self.station.db(self.outbox.next_due_at, list(self._in_flight), self._full_receivers())
        if nxt is None:
            return IDLE_POLL_S
        return max(0.0, min(IDLE_POLL_S, nxt - time.time()))

    async def _maybe_purge(self) -> None:
        now = time.time()
        if self.retention_s is None or now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        removed = await self.station.db(self.outbox.purge, now - self.retention_s)
        if removed:
            log.info("webhook outbox: deleted %d settled notification(s) past the retention window", removed)

    # ------------------------------------------------------------------ one POST

    async def _post(self, n: Notification, secret: str) -> str | None:
        """Send once; None on a 2xx answer, else what went wrong."""
        assert self._http is not None
        body = n.body.encode("utf-8")
        headers = {"Content-Type": "application/json", "X-Printd-Event-Id": n.event_id,
                   webhook_signature.HEADER: webhook_signature.sign(secret, body)}
        try:
            # a whole-request deadline too: httpx's timeout is per read, a trickling receiver could hold on
            async with asyncio.timeout(self.config.timeout_s * 2):
                # the answer's body is never read: only its status matters
                async with self._http.stream("POST", n.url, content=body, headers=headers) as resp:
                    status = resp.status_code
        except Exception as exc:  # noqa: BLE001 - any failure (httpx.InvalidURL is not an HTTPError) is an attempt
            # str(exc) may echo the URL, whose path can carry the receiver's secret: keep it to one line
            text = " ".join(str(exc).split())
            return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    async def _deliver(self, n: Notification, secret: str | None) -> None:
        error: str | None
        try:
            if secret is None:
                error = f"client {n.client!r} has no webhook secret (only API token clients can be notified)"
            else:
                error = await self._post(n, secret)
                if error is None:
                    await self.station.db(self.outbox.mark_delivered, n.id, time.time())
                    return
            settled = await self.station.db(self.outbox.mark_failed, n.id, time.time(), error, self.policy,
                                            permanent=secret is None)
            if settled.state == "failed":
                await self._gave_up(settled)
            elif settled.attempts in (1, 5, 10) or settled.attempts % 50 == 0:
                # a receiver that stays down is logged a few times, not on every retry
                log.warning("webhook %s for job %s to %s failed (attempt %d): %s; retrying", n.event_id,
                            n.job_id, _where(n.url), settled.attempts, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            # e.g. the store cannot write: the notification stays due and is tried again, after a
            # pause that keeps this job's slot, so a full disk does not turn into a stream of POSTs
            log.exception("webhook %s for job %s: could not book the delivery", n.event_id, n.job_id)
            await asyncio.sleep(BOOKING_RETRY_S)

    async def _gave_up(self, n: Notification) -> None:
        message = (f"notification {n.event_id} of job {n.job_id} to {_where(n.url)} was given up after "
                   f"{n.attempts} attempt(s): {n.last_error}")
        log.error("%s", message)
        self.station.events.publish("alert", {"code": "webhook_failed", "message": message, "job_id": n.job_id,
                                              "event_id": n.event_id, "client": n.client,
                                              "card_type": None, "printer": None})
        try:
            self.station.job_changed(await self.station.get_job(n.job_id))  # the page shows notifications.failed
        except NotFound:
            pass


def _where(url: str) -> str:
    """Scheme, host and port only: a callback's path or query may carry a receiver's own secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


# ---------------------------------------------------------------------------------------------- wiring

def job_body_view(station: Station) -> Callable[[Job], dict[str, Any]]:
    """The job object a notification carries: the API's, computed in the changing transaction."""
    return lambda job: station.job_view(job, fresh=True, extras=False)


def install(app: FastAPI) -> None:
    """Wire webhooks into an app built by `build_app`: outbox hook, job summary, delivery worker."""

    station: Station = app.state.station
    settings = app.state.settings
    station.job_hooks.append(OutboxWriter(job_body_view(station), station.clock))

    def summary(job: Job) -> dict[str, Any]:
        if not job.callback_url or station.database is None:
            return {"notifications": None}
        return {"notifications": Outbox(station.database).summary(job.id)}

    station.job_view_extras.append(summary)

    async def start(app_: FastAPI) -> None:
        assert station.database is not None
        accounts = Accounts(station.database)

        def secret(client: str) -> str | None:
            try:
                return accounts.webhook_secret(client)
            except NotFound:
                return None

        retention_s = settings.station.retention_days * 86400.0
        delivery = WebhookDelivery(station, Outbox(station.database), secret, settings.webhooks,
                                   retention_s=retention_s)
        app_.state.webhooks = delivery
        await delivery.start()

    async def stop(app_: FastAPI) -> None:
        delivery = getattr(app_.state, "webhooks", None)
        if delivery is not None:
            await delivery.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)
