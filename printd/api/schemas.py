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


class ResolveIn(_In):
    outcome: Literal["printed", "spoiled", "not_fed"]
    note: str | None = Field(None, max_length=500)


class ReprintIn(_In):
    reason: str = Field(min_length=1, max_length=200)


class PauseIn(_In):
    when: Literal["now", "after_current"] = "now"


class FaultIn(_In):
    kind: Literal["media-jam", "media-empty", "marker-supply-empty", "cover-open", "offline", "hang", "overheat"]
    duration_s: float | None = Field(None, gt=0, le=86400)


class ReceiptIn(_In):
    card_type: Literal["ktp-el", "kia"]
    count: int = Field(gt=0, le=100000)
    reference: str = Field(min_length=1, max_length=200)


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
