"""Request bodies, as pydantic models (they also document the API in /openapi.json)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageIn(_In):
    content_type: str = Field(description="image/png or image/jpeg", examples=["image/png"])
    data: str = Field(description="the image, base64")


class JobIn(_In):
    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                            description="unique per client; re-sending the same request is safe")
    nik: str = Field(description="16-digit NIK", examples=["3274011203900001"])
    name: str = Field(min_length=1, max_length=120)
    card_type: Literal["ktp-el", "kia"] = "ktp-el"
    reason: Literal["new", "lost", "damaged", "data_change", "other"] = "new"
    priority: Literal["normal", "urgent"] = "normal"
    front: ImageIn
    back: ImageIn | None = None
    callback_url: str | None = Field(None, max_length=500)
    reprint: bool = Field(False, description="print a second card on purpose while one for this NIK and card "
                                             "type is still open (otherwise 409 duplicate_open_job)")


#: the ministry's spoilage categories (printd.queue.ledger.SpoilCategory)
SpoilCategoryIn = Literal["gagal_cetak", "gagal_encode", "rusak_fisik", "cacat_pabrik", "perubahan_data"]


class ResolveIn(_In):
    outcome: Literal["printed", "spoiled", "not_fed"]
    note: str | None = Field(None, max_length=500)
    category: SpoilCategoryIn | None = Field(None, description="for `spoiled`: the ministry category; "
                                             "default gagal_cetak (the card was in the printer)")
    force: bool = Field(False, description="resolve even while the printer's call for this card is still "
                                           "running (otherwise 409 printer_still_busy); audited")


class ReprintIn(_In):
    reason: str = Field(min_length=1, max_length=200)
    category: SpoilCategoryIn | None = Field(None, description="why the printed card is spoiled; perubahan_data "
                                             "when the data changed after printing; default gagal_cetak")


class PauseIn(_In):
    when: Literal["now", "after_current"] = "now"


class FaultIn(_In):
    kind: Literal["media-jam", "media-empty", "marker-supply-empty", "cover-open", "offline", "hang", "overheat"]
    duration_s: float | None = Field(None, gt=0, le=86400)


class ReceiptIn(_In):
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=100000)
    reference: str = Field(min_length=1, max_length=200)
    sender: str | None = Field(None, max_length=200, description="who handed the blanks over (for the BAST), "
                               "e.g. 'Ditjen Dukcapil Kemendagri'")


class DestructionIn(_In):
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=100000)
    method: Literal["potong", "bakar"]
    witnesses: list[str] = Field(min_length=1, max_length=6, description="names of the witnesses "
                                 "(e.g. Satpol PP, Inspektorat); at least one")
    reference: str = Field(min_length=1, max_length=200)


class ReturnIn(_In):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=100000)
    from_: Literal["brankas", "rusak"] = Field(alias="from")
    reference: str = Field(min_length=1, max_length=200)
    recipient: str | None = Field(None, max_length=200, description="who receives them (for the berita acara)")


class SurrenderedIn(_In):
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=1000)
    reason: str = Field(min_length=1, max_length=200)
    job_id: str | None = Field(None, max_length=64)


class LoadIn(_In):
    printer: str = Field(min_length=1, max_length=64)
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=100000)


class AdjustmentIn(_In):
    card_type: Literal["ktp-el", "kia"]
    location: str = Field(min_length=1, max_length=80, description='"safe" or a printer name')
    delta: int = Field(description="+ found, - missing; not zero")
    reason: str = Field(min_length=1, max_length=500)


class Ack(BaseModel):
    ok: bool = True
