"""`Outbox.backlog()`: the outbox at a glance for `/metrics` (pending, failing, given up, oldest pending)."""
from __future__ import annotations

import pytest

from printd.notify.outbox import Backlog, Outbox, OutboxWriter, RetryPolicy
from printd.queue.db import Database
from printd.queue.store import Store
from tests.notify.test_delivery import new_job, simple_view

POLICY = RetryPolicy(initial_s=1.0, max_s=8.0, retry_for_s=100.0)


@pytest.fixture
def hooked(store: Store) -> Store:
    store.hooks.append(OutboxWriter(simple_view, store.clock))
    return store


def test_backlog_counts_pending_failing_and_given_up(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    assert outbox.backlog() == Backlog(pending=0, failing=0, failed=0, oldest_pending_at=None)
    for i in range(3):
        hooked.submit(new_job(i))
    oldest = db.query("SELECT MIN(created_at) FROM outbox")[0][0]
    assert outbox.backlog() == Backlog(pending=3, failing=0, failed=0, oldest_pending_at=oldest)

    now = hooked.clock.now() + 1
    first, second, third = outbox.due(now, 10)
    outbox.mark_delivered(first.id, now)
    outbox.mark_failed(second.id, now, "ConnectError: refused", POLICY)                  # tried again later
    outbox.mark_failed(third.id, now, "no webhook secret", POLICY, permanent=True)      # given up
    backlog = outbox.backlog()
    assert (backlog.pending, backlog.failing, backlog.failed) == (1, 1, 1)
    assert backlog.oldest_pending_at == second.created_at

    # an operator's retry puts the given-up one back in the backlog; it has failed before, so it counts
    # as failing until an attempt succeeds
    outbox.retry(third.event_id, now + 1)
    backlog = outbox.backlog()
    assert (backlog.pending, backlog.failing, backlog.failed) == (2, 2, 0)
    outbox.mark_delivered(third.id, now + 2)
    assert outbox.backlog() == Backlog(pending=1, failing=1, failed=0, oldest_pending_at=second.created_at)
