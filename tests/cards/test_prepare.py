"""The preparation pool: forms made in another process read back exactly as the driver would make
them, undecodable pixels are told apart from missing files, and the pool ends with its daemon."""
from __future__ import annotations

import asyncio
import io
import os
import struct
import threading
import zlib
from pathlib import Path

import pytest
from PIL import Image

from printd.cards.art import sample_card
from printd.cards.prepare import DECODED, Form, ImageUndecodable, Preparer
from printd.drivers.cups.render import PreparedDocument, render_card_pdf
from printd.drivers.evolis.panels import PreparedPanels, separate_card
from printd.queue.images import ImageStore
from tests.support import config_text, free_port, job_payload, kill, start_process, wait_for


def _garbage_idat_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1012, 638), "white").save(buf, "PNG")
    png = buf.getvalue()
    head, rest = png[:33], png[33:]          # signature + IHDR
    data = b"\x78\x9c" + b"\x00\xff" * 300
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return head + idat + rest[rest.index(b"IEND") - 4:]


@pytest.fixture
async def preparer(tmp_path: Path) -> tuple[Preparer, ImageStore]:
    images = ImageStore(tmp_path / "images")
    p = Preparer(tmp_path, images.dir, workers=1)
    p.start()
    yield p, images   # type: ignore[misc]
    await p.stop()


async def test_forms_made_ahead_equal_what_the_drivers_make(preparer: tuple[Preparer, ImageStore]) -> None:
    p, images = preparer
    front, back = sample_card("PREP", 1), sample_card("PREP", 2)
    f_sha, b_sha = images.put_all(front, back)
    evolis = Form("evolis", "ymcko", "k", 128)
    await p.prepare("j_1", f_sha, b_sha, (evolis, Form("cups")), ahead=True)
    assert p.is_prepared("j_1") and p.is_prepared("j_1", evolis)
    panels = await p.form_for("j_1", f_sha, b_sha, evolis)
    assert isinstance(panels, PreparedPanels)
    assert panels == separate_card(front, back, "ymcko", "k", 128)
    doc = await p.form_for("j_1", f_sha, b_sha, Form("cups"))
    assert isinstance(doc, PreparedDocument) and doc.pdf[:5] == b"%PDF-"
    assert len(doc.pdf) == len(render_card_pdf(front, back))
    assert await p.form_for("j_1", f_sha, b_sha, DECODED) is None   # the mock takes the images
    assert {f.name for f in (p.dir).iterdir()} == {"j_1.decoded", "j_1.evolis-ymcko-k-128", "j_1.cups"}
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in p.dir.iterdir())   # personal data
    p.discard("j_1")
    assert list(p.dir.iterdir()) == []


async def test_undecodable_pixels_and_missing_files(preparer: tuple[Preparer, ImageStore]) -> None:
    p, images = preparer
    bad = images.put(_garbage_idat_png())
    with pytest.raises(ImageUndecodable, match="front image does not decode"):
        await p.prepare("j_bad", bad, None, (DECODED,))
    assert not p.is_prepared("j_bad")
    with pytest.raises(FileNotFoundError):
        await p.prepare("j_gone", "0" * 64, None, (DECODED,))


async def test_concurrent_requests_for_one_job_share_one_run(preparer: tuple[Preparer, ImageStore]) -> None:
    p, images = preparer
    sha = images.put(sample_card("PREP", 3))
    await asyncio.gather(p.prepare("j_2", sha, None, (DECODED,), ahead=True),
                         p.form_for("j_2", sha, None, Form("cups")))
    assert p.is_prepared("j_2", Form("cups")) and p.is_prepared("j_2")


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(k) for k in (task / "children").read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.e2e
def test_the_pool_ends_when_the_daemon_is_killed(tmp_path: Path) -> None:
    cfg = tmp_path / "printd.toml"
    cfg.write_text(config_text())
    d = start_process(cfg, tmp_path / "state", free_port(), tmp_path / "daemon.log")
    try:
        with d.client(d.enrollment) as c:
            assert c.post("/api/v1/jobs", json=job_payload(1)).status_code == 201
        assert d.process is not None
        pool = wait_for(lambda: _children(d.process.pid), timeout=30, what="the preparation pool started")
    finally:
        kill(d)
    # SIGKILL: no shutdown ran, yet the pool's processes go by themselves
    wait_for(lambda: not any(_alive(pid) for pid in pool), timeout=15, what="the pool processes ended")


async def test_a_failing_disk_is_not_an_undecodable_image(preparer: tuple[Preparer, ImageStore]) -> None:
    """Writing the form fails (here the directory is gone, a file in its place): an OSError, raised as
    such, so the station never fails a job for its own disk's trouble."""
    p, images = preparer
    sha = images.put(sample_card("PREP", 4))
    p.dir.rmdir()
    p.dir.write_bytes(b"")
    with pytest.raises(OSError) as err:
        await p.prepare("j_3", sha, None, (DECODED,))
    assert not isinstance(err.value, ImageUndecodable)
    p.dir.unlink()
    p.dir.mkdir()


def test_a_finished_run_whose_callback_has_not_run_yet_is_settled_not_spun_on(tmp_path: Path) -> None:
    """A second request for a job can start between its run finishing and the run's done-callback
    (a claim right after the submission's preparation). Awaiting a finished future does not yield, so
    without settling it there the request looped forever and froze the event loop (found by the page
    tests: the daemon stopped answering)."""
    p = Preparer(tmp_path, tmp_path / "images")

    async def request() -> None:
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        p._pending["j_4"] = (done, (DECODED,))   # finished, its callback not run yet
        await p.prepare("j_4", "f" * 64, None, (DECODED,))

    thread = threading.Thread(target=lambda: asyncio.run(request()), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "prepare() spun on a finished run"
    assert p.is_prepared("j_4") and "j_4" not in p._pending


async def test_the_pool_processes_start_with_the_preparer_not_with_the_first_card(tmp_path: Path) -> None:
    """A spawned worker costs ~0.3 s of CPU: paid at start-up, not in the first burst of submissions."""
    p = Preparer(tmp_path / "state", ImageStore(tmp_path / "images").dir, workers=2)
    p.start()
    try:
        pool = p._pool
        assert pool is not None
        assert len(pool._processes) == 2   # both spawned before any card was asked for
        assert all(proc.is_alive() for proc in pool._processes.values())
        assert p.prepared_jobs() == set()
    finally:
        await p.stop()
