"""The simulated card printer: a first-class driver for demos, training, benchmarks and tests.

It behaves like an HDP5000-class retransfer printer: about 35 s for a single-sided card and 50 s
for a dual-sided one (scaled by `time_scale`), a 500-print ribbon, 1,500-print film and a 100-card
hopper. Like a real printer it keeps its own counters and supplies in a state file that survives a
daemon crash, and it finishes a card that was already in its mechanism when the host went away.
Every card that physically leaves it is appended to `printed.jsonl` (fsync'd) so anyone can prove
each card was printed exactly once.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from printd.config import MockPrinterConfig
from printd.drivers.base import (
    FAULT_KINDS,
    Card,
    Counters,
    PrinterIdentity,
    PrinterState,
    PrinterStatus,
    PrintOutcome,
    Reason,
    StateReason,
    Supply,
)
from printd.errors import PrinterFault, PrinterOffline

#: how each fault shows and whether it takes a blank when it strikes during a card
FAULT_EFFECT: dict[str, tuple[str, bool | None]] = {
    "media-jam": (Reason.MEDIA_JAM, True),          # the card is stuck inside: a spoiled blank
    "media-empty": (Reason.MEDIA_EMPTY, False),     # nothing to feed
    "marker-supply-empty": (Reason.MARKER_SUPPLY_EMPTY, True),  # ribbon broke mid-card
    "cover-open": (Reason.COVER_OPEN, False),       # stops before feeding
    "overheat": (Reason.OVERHEAT, False),           # waits before feeding, cools by itself
    "offline": (Reason.OFFLINE, None),              # link lost: nobody knows
    "hang": (Reason.OFFLINE, None),                 # never answers
}
_STEP_S = 0.02


@dataclass
class _Fault:
    kind: str
    until: float | None  # monotonic time it clears by itself, None = until cleared


class MockPrinter:
    """A simulated card printer implementing `Driver` and `Simulated`."""

    status_timeout_s = 2.0

    def __init__(self, name: str, cfg: MockPrinterConfig, directory: Path) -> None:
        self.name = name
        self.cfg = cfg
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "state.json"
        self.log_path = self.dir / "printed.jsonl"
        # three times the slowest card, at least half a second: a hang longer than that is "no answer"
        self.card_timeout_s = max(0.5, cfg.seconds_dual / cfg.time_scale * 3)
        self._lock = threading.RLock()
        self._faults: dict[str, _Fault] = {}
        self._rng = random.Random(cfg.fault_seed)
        self._cancel = threading.Event()
        self._state: dict[str, Any] = {}
        self._errors: list[dict[str, Any]] = []
        self._load_state()

    # ---------------------------------------------------------------- persistence (the printer's memory)

    def _load_state(self) -> None:
        if self.state_path.exists():
            self._state = json.loads(self.state_path.read_text())
        else:
            self._state = {
                "serial": self.cfg.serial or "SIM" + hashlib.sha256(self.name.encode()).hexdigest()[:8].upper(),
                "fed": 0, "printed": 0, "since_cleaning": 0,
                "ribbon": self.cfg.ribbon_capacity, "film": self.cfg.film_capacity,
                "hopper": 0, "hopper_card_type": self.cfg.card_type, "in_flight": None,
            }
            self._save()

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(self._state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)

    def _append_printed(self, record: dict[str, Any]) -> None:
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _last_printed(self) -> dict[str, Any] | None:
        if not self.log_path.exists():
            return None
        with open(self.log_path, "rb") as fh:
            data = fh.read()
        if data and not data.endswith(b"\n"):
            # power was lost while the record was written: drop the torn line (the card is still
            # in flight in the state file and is recorded again when it is finished)
            data = data[: data.rfind(b"\n") + 1]
            with open(self.log_path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        lines = data.splitlines()
        return json.loads(lines[-1]) if lines else None

    # ---------------------------------------------------------------- faults

    def _active(self) -> dict[str, _Fault]:
        now = time.monotonic()
        with self._lock:
            for kind in [k for k, f in self._faults.items() if f.until is not None and f.until <= now]:
                self._clear(kind)
            return dict(self._faults)

    def _clear(self, kind: str) -> None:
        self._faults.pop(kind, None)
        # clearing a supply fault means someone put in a new ribbon
        if kind == "marker-supply-empty" and self._state["ribbon"] <= 0:
            self._state["ribbon"] = self.cfg.ribbon_capacity
            self._save()

    def inject_fault(self, kind: str, duration_s: float | None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            until = None if duration_s is None else time.monotonic() + duration_s
            self._faults[kind] = _Fault(kind, until)
            self._errors.append({"at": time.time(), "kind": kind, "source": "injected"})

    def clear_faults(self) -> None:
        with self._lock:
            for kind in list(self._faults):
                self._clear(kind)
            # an operator who clears the faults of a printer whose ribbon/film ran out fitted new ones
            for supply, capacity in (("ribbon", self.cfg.ribbon_capacity), ("film", self.cfg.film_capacity)):
                if self._state[supply] <= 0:
                    self._state[supply] = capacity
                    self._save()

    def load_cards(self, card_type: str, count: int) -> None:
        with self._lock:
            if self._state["hopper"] > 0 and self._state["hopper_card_type"] != card_type:
                raise ValueError("the hopper holds another card type; unload it first")
            self._state["hopper_card_type"] = card_type
            self._state["hopper"] = min(self.cfg.hopper_capacity * 10, self._state["hopper"] + count)
            self._save()

    def unload_cards(self, count: int) -> None:
        with self._lock:
            self._state["hopper"] = max(0, self._state["hopper"] - count)
            self._save()

    def _wait_while_hung(self) -> None:
        while "hang" in self._active():
            time.sleep(_STEP_S)

    # ---------------------------------------------------------------- the Driver seam

    def open(self) -> PrinterIdentity:
        self._wait_while_hung()
        if "offline" in self._active():
            raise PrinterOffline(f"{self.name}: simulated printer is offline")
        with self._lock:
            self._finish_in_flight_after_restart()
            return PrinterIdentity(model=self.cfg.model, serial=self._state["serial"], firmware="SIM-1.4.2",
                                   vendor="printd", link={"transport": "simulated", "dir": str(self.dir)})

    def _finish_in_flight_after_restart(self) -> None:
        # A real printer finishes the card already in its mechanism when the host dies; so do we.
        last = self._last_printed()   # also repairs a torn last line
        flight = self._state.get("in_flight")
        if not flight:
            return
        if not (last and last["job_id"] == flight["job_id"] and last["attempt"] == flight["attempt"]):
            self._append_printed({"job_id": flight["job_id"], "attempt": flight["attempt"],
                                  "front_sha256": flight["front_sha256"], "back_sha256": flight["back_sha256"],
                                  "at": time.time()})
        self._state["printed"] += 1
        self._state["since_cleaning"] += 1
        self._state["ribbon"] -= 1
        self._state["film"] -= 2 if flight["back_sha256"] else 1
        self._state["in_flight"] = None
        self._save()

    def _counters(self) -> Counters:
        return Counters(fed=self._state["fed"], printed=self._state["printed"],
                        since_cleaning=self._state["since_cleaning"])

    def status(self) -> PrinterStatus:
        self._wait_while_hung()
        faults = self._active()
        if "offline" in faults:
            raise PrinterOffline(f"{self.name}: simulated printer is offline")
        with self._lock:
            st = self._state
            reasons = [StateReason.of(FAULT_EFFECT[k][0], vendor_code=f"SIM-{k}") for k in faults]
            if st["hopper"] <= 0 and "media-empty" not in faults:
                reasons.append(StateReason.of(Reason.MEDIA_EMPTY, vendor_code="SIM-hopper"))
            elif 0 < st["hopper"] <= 10:
                reasons.append(StateReason.of(Reason.MEDIA_LOW))
            if st["ribbon"] <= 0 and "marker-supply-empty" not in faults:
                reasons.append(StateReason.of(Reason.MARKER_SUPPLY_EMPTY, vendor_code="SIM-ribbon"))
            elif st["ribbon"] <= 25:
                reasons.append(StateReason.of(Reason.MARKER_SUPPLY_LOW))
            if st["film"] <= 0:
                reasons.append(StateReason.of(Reason.FILM_EMPTY, vendor_code="SIM-film"))
            stopping = [r for r in reasons if r.severity == "error"]
            state = PrinterState.STOPPED if stopping else (
                PrinterState.PRINTING if st["in_flight"] else PrinterState.IDLE)
            return PrinterStatus(
                state=state, reasons=tuple(reasons),
                ribbon=Supply("YMCKO", st["ribbon"], self.cfg.ribbon_capacity),
                film=Supply("retransfer", st["film"], self.cfg.film_capacity),
                hopper_card_type=st["hopper_card_type"], hopper_count=st["hopper"],
                hopper_empty=st["hopper"] <= 0 or "media-empty" in faults,
                counters=self._counters(), raw={"state_file": dict(st), "faults": sorted(faults)})

    def _raise_for(self, kind: str, card_fed: bool | None) -> None:
        reason = FAULT_EFFECT[kind][0]
        self._errors.append({"at": time.time(), "kind": kind, "card_fed": card_fed})
        if kind in ("offline", "hang"):
            raise PrinterOffline(f"{self.name}: lost contact during the card", card_fed=card_fed)
        raise PrinterFault(f"{self.name}: {reason}", reasons=[reason], card_fed=card_fed,
                           vendor_code=f"SIM-{kind}")

    def print_card(self, card: Card) -> PrintOutcome:
        self._wait_while_hung()
        self._cancel.clear()
        started = time.monotonic()
        faults = self._active()
        with self._lock:
            before = self._counters()
            for kind in ("offline", "cover-open", "overheat", "media-jam", "media-empty", "marker-supply-empty"):
                if kind in faults:
                    self._raise_for(kind, None if kind == "offline" else False)
            st = self._state
            if st["hopper"] <= 0 or st["hopper_card_type"] != card.card_type:
                self._raise_for("media-empty", False)
            if st["ribbon"] <= 0:
                self._raise_for("marker-supply-empty", False)
            if st["film"] <= 0:
                raise PrinterFault(f"{self.name}: film empty", reasons=[Reason.FILM_EMPTY], card_fed=False)
            # a seeded random fault for this card, decided before feeding
            random_fault = None
            if self.cfg.fault_rate and self._rng.random() < self.cfg.fault_rate:
                random_fault = self._rng.choice(self.cfg.fault_kinds)
            if random_fault in ("cover-open", "overheat"):
                self._faults[random_fault] = _Fault(
                    random_fault, time.monotonic() + self.cfg.fault_duration_s / self.cfg.time_scale)
                self._raise_for(random_fault, False)
            front = hashlib.sha256(card.front_png).hexdigest()
            back = hashlib.sha256(card.back_png).hexdigest() if card.back_png else None
            # feed: the blank leaves the hopper; remembered before anything else happens
            st["fed"] += 1
            st["hopper"] -= 1
            st["in_flight"] = {"job_id": card.job_id, "attempt": card.attempt, "front_sha256": front,
                               "back_sha256": back, "test": card.test}
            self._save()
        seconds = (self.cfg.seconds_dual if card.back_png else self.cfg.seconds_single) / self.cfg.time_scale
        deadline = started + seconds
        strike_at = started + seconds * (self._rng.random() * 0.8 + 0.1) if random_fault else None
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            faults = self._active()
            if "hang" in faults:
                self._wait_while_hung()
                continue
            for kind in ("media-jam", "marker-supply-empty", "offline"):
                if kind in faults:
                    self._spoil_in_flight(kind)
            if strike_at is not None and now >= strike_at and random_fault:
                duration = self.cfg.fault_duration_s / self.cfg.time_scale
                if random_fault == "hang":
                    self._faults["hang"] = _Fault("hang", time.monotonic() + duration)
                    strike_at = None
                    continue
                self._faults[random_fault] = _Fault(random_fault, time.monotonic() + duration)
                self._spoil_in_flight(random_fault)
            if self._cancel.is_set():
                self._spoil_in_flight("canceled")
            time.sleep(min(_STEP_S, max(0.0, deadline - now)))
        with self._lock:
            flight = self._state["in_flight"]
            record = {"job_id": card.job_id, "attempt": card.attempt, "front_sha256": flight["front_sha256"],
                      "back_sha256": flight["back_sha256"], "at": time.time()}
            if card.test:
                record["test"] = True
            self._append_printed(record)
            if self.cfg.write_images:
                (self.dir / "cards").mkdir(exist_ok=True)
                (self.dir / "cards" / f"{card.job_id}-{card.attempt}-front.png").write_bytes(card.front_png)
                if card.back_png:
                    (self.dir / "cards" / f"{card.job_id}-{card.attempt}-back.png").write_bytes(card.back_png)
            st = self._state
            st["printed"] += 1
            st["since_cleaning"] += 1
            st["ribbon"] -= 1
            st["film"] -= 2 if card.back_png else 1
            st["in_flight"] = None
            self._save()
            return PrintOutcome(counters_before=before, counters_after=self._counters(),
                                duration_s=time.monotonic() - started)

    def _spoil_in_flight(self, kind: str) -> None:
        """A fault struck with the card inside: the blank is lost (or, offline, unknown)."""
        with self._lock:
            if kind == "offline":
                # the link dropped but the mechanism goes on: the card finishes at restart or recovery
                self._raise_for("offline", None)
            self._state["in_flight"] = None
            if kind == "marker-supply-empty":
                self._state["ribbon"] = 0
            self._save()
            if kind == "canceled":
                raise PrinterFault(f"{self.name}: card canceled and ejected", reasons=[Reason.OTHER],
                                   card_fed=True, vendor_code="SIM-cancel")
            self._raise_for(kind, True)

    def cancel(self) -> None:
        self._cancel.set()

    def diagnostics(self) -> dict[str, Any]:
        faults = self._active()
        with self._lock:
            return {"driver": "mock", "state_file": str(self.state_path), "printed_log": str(self.log_path),
                    "state": dict(self._state), "faults": {k: f.until for k, f in faults.items()},
                    "recent_errors": list(self._errors[-20:]), "time_scale": self.cfg.time_scale,
                    "seconds_single": self.cfg.seconds_single, "seconds_dual": self.cfg.seconds_dual}

    def close(self) -> None:
        self._cancel.set()
