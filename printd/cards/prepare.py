"""Decode and prepare the printer-ready card right after acceptance, off the request path.

Submission checks an image's structure only (printd/cards/checks.py). Right after the job is durable
the station hands it here: a process pool on the cores the request path leaves (one process on a
two-core PC, at a lower CPU priority so a burst of submissions keeps its millisecond) decodes both
sides and makes the form the job's printer kind sends: the Evolis ribbon panels, the CUPS document;
the simulated printer takes the images as they are, so for it the decode is the whole preparation.
The result is kept in `<state-dir>/prepared/` (the pixels are personal data: files 0600, deleted
when the job is final) and the printer's worker hands it to the driver, so a card starts printing
without the seconds of panel separation. Why processes, not threads: separating panels packs bits
in Python and holds the GIL for ~0.2 s a card, which would stall the event loop; the process reads
the images from the image store and writes its result itself, so nothing large is pickled.

An image whose pixels do not decode raises `ImageUndecodable`; the station then fails the job with
reason `invalid_image` before any printer touches a blank. A job that moves to a printer of another
kind (another driver, or another Evolis ribbon plan) is prepared again for that kind, at claim time.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import multiprocessing
import os
import re
import threading
import time
import warnings
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

log = logging.getLogger("printd.prepare")

#: form files kept at once; past it a backlog is only decoded (checked) ahead, and its form is made
#: when a printer claims the job. Bounds the disk a city's backlog can take (an Evolis YMCKO card is
#: ~1.9 MB of panels before compression).
MAX_FORMS_AHEAD = 200
_SUFFIX = re.compile(r"^[a-z0-9-]+$")


class ImageUndecodable(ValueError):
    """A card image's pixels do not decode; the job cannot be printed."""


@dataclass(frozen=True)
class Form:
    """What one printer kind sends: `decoded` (the images themselves), `cups` (a PDF) or `evolis`
    (panels for one ribbon plan and colour depth)."""

    kind: str
    front_panels: str = ""
    back_panels: str = ""
    levels: int = 0

    @property
    def key(self) -> str:
        if self.kind == "evolis":
            return f"evolis-{self.front_panels}-{self.back_panels}-{self.levels}"
        return self.kind


DECODED = Form("decoded")


def form_of(driver_kind: str, driver: object) -> Form:
    """The form a printer's driver takes (by its config's `driver` and, for Evolis, its ribbon plan)."""
    if driver_kind == "evolis":
        return Form("evolis", str(getattr(driver, "front_panels", "ymcko")), str(getattr(driver, "back_panels", "k")),
                    int(getattr(driver, "color_levels", 128)))
    if driver_kind == "cups":
        return Form("cups")
    return DECODED


# ---------------------------------------------------------------------------- in the pool's process

def _ready() -> int:
    """Nothing but proof of life: sent to each pool process at start, so it is spawned and has imported
    what a preparation needs before the first card arrives, not in the middle of the first burst of
    submissions (a spawned interpreter costs ~0.3 s of CPU)."""
    return os.getpid()


def _start_worker() -> None:
    """In each pool process: yield the CPU to the daemon's request path and printer threads, and end
    when the daemon does. A daemon killed outright (SIGKILL, a crash) cannot shut its pool down, and
    an idle worker would wait for work forever; it watches for its parent to change instead."""
    try:
        os.nice(10)
    except OSError:
        pass
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="printd-prepare-parent", daemon=True).start()


def decode_image(data: bytes) -> None:
    """Decode every pixel; ImageUndecodable when that fails (corrupt compressed data, a broken stream)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ImageUndecodable(f"{type(exc).__name__}: {exc}") from None


def make_form(form: Form, front: bytes, back: bytes | None) -> bytes | None:
    """The bytes of `form` for a card (None for `decoded`: the images are the form)."""
    if form.kind == "evolis":
        from printd.drivers.evolis.panels import separate_card

        ready = separate_card(front, back, form.front_panels, form.back_panels, form.levels)
        head = {"front": [[p.name, p.levels] for p in ready.front], "back": [[p.name, p.levels] for p in ready.back]}
        body = b"".join(p.data for p in (*ready.front, *ready.back))
        return json.dumps(head).encode() + b"\n" + zlib.compress(body, 1)
    if form.kind == "cups":
        from printd.drivers.cups.render import render_card_pdf

        return render_card_pdf(front, back)
    return None


def prepare_job(images_dir: str, out_dir: str, job_id: str, front_sha: str, back_sha: str | None,
                forms: tuple[Form, ...]) -> str | None:
    """Runs in the pool: decode the job's images and write each form. None when all is well, else
    why the image does not decode.

    Errors of the files rather than the pixels are raised, never reported as an undecodable image:
    FileNotFoundError when an image is gone (retention), any other OSError reading the images or
    writing a form (a full disk, no descriptors): the job must not fail for the station's trouble.
    """
    front = Path(images_dir, f"{front_sha}.img").read_bytes()
    back = Path(images_dir, f"{back_sha}.img").read_bytes() if back_sha else None
    for side, data in (("front", front), ("back", back)):
        if data is not None:
            try:
                decode_image(data)
            except ImageUndecodable as exc:
                return f"the {side} image does not decode: {exc}"
    for form in forms:
        try:
            made = make_form(form, front, back)
        except (OSError, SyntaxError, ValueError) as exc:   # Pillow's word for pixels it cannot use
            return f"the card cannot be prepared: {type(exc).__name__}: {exc}"
        _write(Path(out_dir, f"{job_id}.{form.key}"), made if made is not None else b"")
    return None


def _write(path: Path, data: bytes) -> None:
    # no fsync: a form lost in a crash is simply made again
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_form(path: Path, form: Form) -> object | None:
    """What the driver takes, from a form file: PreparedPanels, PreparedDocument or None (decoded)."""
    if form.kind == "evolis":
        from printd.drivers.evolis.panels import Panel, PreparedPanels, panel_size

        raw = path.read_bytes()
        head_end = raw.index(b"\n")
        head = json.loads(raw[:head_end])
        body = zlib.decompress(raw[head_end + 1:])
        pos = 0
        sides: dict[str, tuple[Panel, ...]] = {}
        for side in ("front", "back"):
            panels = []
            for name, levels in head[side]:
                size = panel_size(levels)
                panels.append(Panel(name, levels, body[pos:pos + size]))
                pos += size
            sides[side] = tuple(panels)
        return PreparedPanels(form.front_panels, form.back_panels, form.levels, sides["front"], sides["back"])
    if form.kind == "cups":
        from printd.drivers.cups.render import PreparedDocument

        return PreparedDocument(path.read_bytes())
    return None


# ---------------------------------------------------------------------------- in the daemon

class Preparer:
    """Schedules preparations on the pool and finds their results; used from the event loop."""

    def __init__(self, state_dir: Path, images_dir: Path, workers: int | None = None) -> None:
        self.dir = state_dir / "prepared"
        self.images_dir = images_dir
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[str, tuple[asyncio.Future[str | None], tuple[Form, ...]]] = {}
        #: form files on disk, by job id -> form keys (the `decoded` marker included)
        self._done: dict[str, set[str]] = {}
        self._forms_on_disk = 0
        #: prepare-time seconds of recent jobs (201 -> prepared), for the benchmark and metrics
        self.latencies: list[float] = []

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in self.dir.iterdir():
            job_id, _, key = path.name.partition(".")
            if ".tmp" in key or not key:
                path.unlink(missing_ok=True)   # a write cut off by a crash
                continue
            self._done.setdefault(job_id, set()).add(key)
            self._forms_on_disk += key != DECODED.key
        # spawn, not fork: the daemon has threads (database, printers), and a forked child could
        # inherit a lock held by one of them
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_worker)
        for _ in range(self.workers):
            self._pool.submit(_ready)

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: pool.shutdown(wait=True,
                                                                                          cancel_futures=True))

    def is_prepared(self, job_id: str, form: Form = DECODED) -> bool:
        return form.key in self._done.get(job_id, ())

    def prepared_jobs(self) -> set[str]:
        return set(self._done)

    async def prepare(self, job_id: str, front_sha: str, back_sha: str | None, forms: Iterable[Form], *,
                      ahead: bool = False) -> None:
        """Decode the job's images and make its forms; one run at a time per job.

        `ahead` (right after acceptance) makes forms only while fewer than MAX_FORMS_AHEAD are kept.
        Raises ImageUndecodable when an image does not decode, FileNotFoundError when one is gone.
        """
        while (entry := self._pending.get(job_id)) is not None:
            running, its_forms = entry
            problem = await asyncio.shield(running)
            # awaiting a finished future does not yield to the loop, and its done-callback may not have
            # run yet: settle it here, or this loop would spin forever on the same finished run
            self._finished(job_id, its_forms, running)
            if problem is not None:
                raise ImageUndecodable(problem)
        wanted = tuple(f for f in dict.fromkeys(forms) if not self.is_prepared(job_id, f))
        if ahead and self._forms_on_disk >= MAX_FORMS_AHEAD:
            wanted = tuple(f for f in wanted if f.kind == "decoded")
        if not self.is_prepared(job_id) and DECODED not in wanted:
            wanted = (DECODED, *wanted)
        if not wanted:
            return
        if self._pool is None:
            raise RuntimeError("the preparer is not running")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str | None] = asyncio.ensure_future(loop.run_in_executor(
            self._pool, prepare_job, str(self.images_dir), str(self.dir), job_id, front_sha, back_sha, wanted))
        self._pending[job_id] = (fut, wanted)
        fut.add_done_callback(lambda f: self._finished(job_id, wanted, f))
        problem = await asyncio.shield(fut)
        self._finished(job_id, wanted, fut)
        if problem is not None:
            raise ImageUndecodable(problem)

    def _finished(self, job_id: str, forms: tuple[Form, ...], fut: asyncio.Future[str | None]) -> None:
        """Settle a finished run (idempotent: its done-callback and its waiters both call it)."""
        entry = self._pending.get(job_id)
        if entry is not None and entry[0] is fut:
            del self._pending[job_id]
        if fut.cancelled() or fut.exception() is not None or fut.result() is not None:
            return
        done = self._done.setdefault(job_id, set())
        for form in forms:
            if form.key not in done:
                done.add(form.key)
                self._forms_on_disk += form.key != DECODED.key

    async def form_for(self, job_id: str, front_sha: str, back_sha: str | None, form: Form) -> Any:
        """The prepared card in `form` for a driver (made now if it was not made ahead)."""
        await self.prepare(job_id, front_sha, back_sha, (form,))
        if form.kind == "decoded":
            return None
        path = self.dir / f"{job_id}.{form.key}"
        try:
            return await asyncio.get_running_loop().run_in_executor(None, read_form, path, form)
        except (OSError, ValueError, zlib.error):
            # removed or damaged under us: make it again once
            self._forget(job_id, form.key)
            await self.prepare(job_id, front_sha, back_sha, (form,))
            return await asyncio.get_running_loop().run_in_executor(None, read_form, path, form)

    def _forget(self, job_id: str, key: str) -> None:
        keys = self._done.get(job_id)
        if keys and key in keys:
            keys.discard(key)
            self._forms_on_disk -= key != DECODED.key
            if not keys:
                del self._done[job_id]

    def discard(self, job_id: str) -> None:
        """The job is final (or its images are gone): delete what was prepared for it."""
        for key in self._done.pop(job_id, set()):
            if not _SUFFIX.match(key):
                continue
            self._forms_on_disk -= key != DECODED.key
            try:
                (self.dir / f"{job_id}.{key}").unlink()
            except FileNotFoundError:
                pass
