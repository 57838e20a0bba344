"""Uploaded data files: stored under the uploads directory only once they are complete and parse."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from typing import Any, BinaryIO

from starlette.types import Message, Receive

from addrop.data.errors import DataError
from addrop.data.files import EXTENSIONS
from addrop.data.summary import summarize_file
from backend.job_errors import JobError
from backend.schemas.jobs import UploadOut
from backend.settings import Settings
from jobstore.database import Database
from jobstore.orm import Upload

CHUNK = 1024 * 1024
# What the multipart envelope (boundaries, part headers) may add to the file's own size.
ENVELOPE_BYTES = 64 * 1024
# A preview value longer than this is cut: the answer stays small however wide or long the rows are.
PREVIEW_CHARS = 500
# A column holding a longer value is no label column: a form offers no such class names.
DISTINCT_CHARS = 200
MAX_COLUMN_NAME = 200


class UploadRejected(JobError):
    """A file that cannot be used; ``status_code`` says why (413 too large, 415 wrong type, 422 unreadable)."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


class UploadSlots:
    """How many uploads are received at once: each spools up to ``upload_max_bytes`` to temporary disk while it
    streams in (Starlette's multipart parser), so the cap bounds that disk. Only the event loop's thread takes
    and gives slots, so a counter needs no lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0

    def take(self) -> bool:
        """Take a slot; False when all are taken."""
        if self.taken >= self.size:
            return False
        self.taken += 1
        return True

    def give(self) -> None:
        """Give a slot back."""
        self.taken -= 1


def store_upload(settings: Settings, db: Database, filename: str, source: BinaryIO) -> UploadOut:
    """Copy ``source`` into the uploads directory (at most ``upload_max_bytes``), parse it with the
    training code's reader, and record it; a rejected file leaves nothing behind."""
    name = _safe_name(filename)
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EXTENSIONS:
        raise UploadRejected(
            f"{filename!r}: unsupported file type; upload one of {', '.join(EXTENSIONS)}", status_code=415
        )
    upload_id = uuid.uuid4().hex
    folder = settings.uploads_dir / upload_id
    folder.mkdir(parents=True)
    target = folder / name
    try:
        size = _copy_limited(source, folder / f".{name}.part", settings.upload_max_bytes)
        (folder / f".{name}.part").rename(target)
        summary = summarize_file(target, max_columns=settings.upload_max_columns)
        _check_column_names(summary.columns)
        with db.session() as session:
            session.add(Upload(id=upload_id, filename=name, path=f"{upload_id}/{name}", size=size,
                               columns=summary.columns, rows=summary.rows))
    except DataError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRejected(f"{filename!r} cannot be read: {str(error).replace(str(target), name)}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return UploadOut(id=upload_id, filename=name, size=size, columns=summary.columns, rows=summary.rows,
                     preview=[{key: _clipped(value) for key, value in row.items()} for row in summary.preview],
                     distinct={column: _offered(values) for column, values in summary.distinct.items()})


def too_large(limit: int) -> UploadRejected:
    """The error for a file over ``limit`` bytes."""
    return UploadRejected(f"the file is larger than this server accepts ({limit / 2**20:g} MiB)", status_code=413)


def capped_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :func:`too_large` as soon as the request body passes ``limit`` bytes
    (plus the multipart envelope), so a body without a Content-Length is not read to its end first."""
    received = 0

    async def capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit + ENVELOPE_BYTES:
                raise too_large(limit)
        return message

    return capped


def _check_column_names(columns: list[str]) -> None:
    for i, column in enumerate(columns):
        if len(column) > MAX_COLUMN_NAME:
            raise DataError(f"column {i + 1}'s name is {len(column)} characters long; at most {MAX_COLUMN_NAME}")


def _clipped(value: Any) -> Any:
    """``value`` as a preview shows it: a long string cut, a large list or object as its JSON text, cut."""
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
        return value if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"
    if isinstance(value, str) and len(value) > PREVIEW_CHARS:
        return value[:PREVIEW_CHARS] + "…"
    return value


def _offered(values: list[Any] | None) -> list[Any] | None:
    if values is None or any(isinstance(v, str) and len(v) > DISTINCT_CHARS for v in values):
        return None
    return values


def _copy_limited(source: BinaryIO, path, limit: int) -> int:
    size = 0
    with open(path, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.write(chunk)
    if size == 0:
        raise UploadRejected("the file is empty")
    return size


def _safe_name(filename: str) -> str:
    # Only the base name, in a conservative alphabet: the name is used on disk.
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    return cleaned[:100] or "data"
