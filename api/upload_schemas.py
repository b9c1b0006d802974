"""Bodies of OpenAI's Uploads API: create an upload, its parts, complete it into a file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import FileObject
from store.ids import unix_seconds
from store.models import File, Upload, UploadPart


class CreateUploadRequest(BaseModel):
    """``POST /v1/uploads``: the file's name, purpose, exact size and MIME type."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    purpose: str = Field(min_length=1, max_length=64)
    #: Checked by the store (a 400 naming ``bytes``: the validator's own path would lose a field called so).
    bytes: int
    mime_type: str = Field(min_length=1, max_length=128)


class CompleteUploadRequest(BaseModel):
    """``POST /v1/uploads/{id}/complete``: the parts in order (an ``md5`` is accepted and not checked:
    the file's ``sha256`` is computed and returned)."""

    model_config = ConfigDict(extra="forbid")

    part_ids: list[str] = Field(max_length=10_000)
    md5: str | None = Field(default=None, max_length=64)


class UploadObject(BaseModel):
    """OpenAI's Upload object; ``file`` once it is completed."""

    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str
    expires_at: int
    file: FileObject | None = None

    @classmethod
    def from_row(cls, upload: Upload, file: File | None = None) -> UploadObject:
        return cls(
            id=upload.id,
            bytes=upload.bytes,
            created_at=upload.created_at_unix,
            filename=upload.filename,
            purpose=upload.purpose,
            status=upload.status,
            expires_at=unix_seconds(upload.expires_at),
            file=FileObject.from_row(file) if file is not None else None,
        )


class UploadPartObject(BaseModel):
    """OpenAI's Upload Part object."""

    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str

    @classmethod
    def from_row(cls, part: UploadPart) -> UploadPartObject:
        return cls(id=part.id, created_at=part.created_at_unix, upload_id=part.upload_id)
