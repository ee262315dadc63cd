"""Slowing down password guessing on the login form: an exponential lock-out window per key.

Two keys are counted for every failed login: the user name tried and the client's address. A few
failures are free (people mistype); after that each further failure doubles the time during which
that key may not try at all (1 s, 2 s, 4 s ... up to `max_delay_s`). While a key is locked out the
password is not even checked, so guessing costs the attacker wall-clock time, not the station CPU
time. A success clears both keys; a key with no failure for `forget_after_s` starts afresh.

Attempts in flight count too. Checking a password takes ~50 ms on a pool thread; if only finished
failures counted, 60 logins sent at once would all pass the check before the first one failed (an
outsider had every password checked that way). So `begin()` reserves the attempt on both keys in
the same synchronous step that checks them (the event loop runs one at a time, so check and
reserve are atomic), counting every attempt in flight as a failure-to-be: once the free
allowance is spoken for, a further attempt waits until those in flight have ended. `end()`
releases the reservation and books the result.

The page usually runs on the print PC itself, so every operator comes from 127.0.0.1: the address
key gets a larger free allowance than the user key, or one person's typos would lock out everyone.
State is in memory: a daemon restart forgets it, which costs an attacker a restart he cannot cause
from the login form; the failed logins themselves are kept in the audit log.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Count:
    failures: int
    last_failure: float
    locked_until: float
    #: attempts begun and not yet ended (their passwords are being checked)
    in_flight: int = 0


@dataclass(frozen=True)
class Policy:
    """How many failures are free and how the lock-out window grows."""

    free_failures: int
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    forget_after_s: float = 900.0

    def delay(self, failures: int) -> float:
        """The lock-out after the `failures`-th failure in a row (0 while still free)."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (over - 1)))


USER_POLICY = Policy(free_failures=3)
ADDRESS_POLICY = Policy(free_failures=10)


class LoginThrottle:
    """Failed-login counts per user name and per client address, with exponential lock-out."""

    def __init__(self, *, user_policy: Policy = USER_POLICY, address_policy: Policy = ADDRESS_POLICY,
                 now: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.policies = {"user": user_policy, "address": address_policy}
        self._now = now
        self._max_entries = max_entries
        self._counts: dict[tuple[str, str], _Count] = {}

    @staticmethod
    def _keys(user: str, address: str) -> list[tuple[str, str]]:
        # user names are matched case-insensitively here so "Sari" and "sari" share one budget
        return [("user", user.strip().lower()[:64]), ("address", address)]

    def _current(self, key: tuple[str, str]) -> _Count | None:
        count = self._counts.get(key)
        if count is None:
            return None
        if count.in_flight == 0 and self._now() - count.last_failure > self.policies[key[0]].forget_after_s:
            del self._counts[key]
            return None
        return count

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until this user from this address may try again (0: now)."""
        now = self._now()
        counts = [self._current(k) for k in self._keys(user, address)]
        waits = [c.locked_until - now for c in counts if c is not None]
        return max([0.0, *waits])

    def begin(self, user: str, address: str) -> float:
        """Check and reserve one login attempt at once: 0 when it may go ahead (call `end()` after),
        else the seconds to wait (nothing reserved).

        An attempt is refused while a key is locked out, and while the attempts in flight already
        use up the free failures (had they all failed, this one would be locked out).
        """
        now = self._now()
        keys = self._keys(user, address)
        wait = 0.0
        for key in keys:
            count = self._current(key)
            if count is None:
                continue
            policy = self.policies[key[0]]
            wait = max(wait, count.locked_until - now)
            if count.in_flight and policy.delay(count.failures + count.in_flight) > 0:
                wait = max(wait, policy.base_delay_s)
        if wait > 0:
            return wait
        for key in keys:
            count = self._current(key) or _Count(0, now, now)
            count.in_flight += 1
            self._counts[key] = count
        self._prune(now)
        return 0.0

    def end(self, user: str, address: str, ok: bool | None) -> float:
        """The attempt `begin()` let through has ended: True succeeded, False failed, None neither
        (the check itself broke). Returns the lock-out now in force."""
        for key in self._keys(user, address):
            count = self._counts.get(key)
            if count is not None and count.in_flight > 0:
                count.in_flight -= 1
        if ok is True:
            self.succeeded(user, address)
            return 0.0
        if ok is False:
            return self.failed(user, address)
        return self.retry_after(user, address)

    def failed(self, user: str, address: str) -> float:
        """Count a failed login; returns how long the user or address is now locked out."""
        now = self._now()
        for key in self._keys(user, address):
            count = self._current(key) or _Count(0, now, now)
            count.failures += 1
            count.last_failure = now
            count.locked_until = now + self.policies[key[0]].delay(count.failures)
            self._counts[key] = count
        self._prune(now)
        return self.retry_after(user, address)

    def succeeded(self, user: str, address: str) -> None:
        """A good login clears the counts of that user and that address (not other attempts in flight)."""
        for key in self._keys(user, address):
            count = self._counts.pop(key, None)
            if count is not None and count.in_flight:
                self._counts[key] = _Count(0, count.last_failure, count.last_failure, count.in_flight)

    def _prune(self, now: float) -> None:
        # bounded memory even when someone tries a million names: drop forgotten entries, then the oldest
        if len(self._counts) <= self._max_entries:
            return
        for key in [k for k, c in self._counts.items()
                    if not c.in_flight and now - c.last_failure > self.policies[k[0]].forget_after_s]:
            del self._counts[key]
        if len(self._counts) > self._max_entries:
            # an entry with an attempt in flight is never dropped: its reservation must stay counted
            oldest = sorted((k for k, c in self._counts.items() if not c.in_flight),
                            key=lambda k: self._counts[k].last_failure)
            for key in oldest[:len(self._counts) - self._max_entries]:
                del self._counts[key]
