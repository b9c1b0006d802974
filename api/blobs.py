"""Stream a stored blob as an HTTP response, with single-range ``Range`` support (resumable downloads).

RFC 9110 §14: ``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` (the unit case-insensitive) get
``206 Partial Content`` and ``Content-Range``; a well-formed range that selects nothing of the blob gets
``416`` with ``Content-Range: bytes */<size>``. A header the server does not support (another unit,
several ranges) or cannot parse is ignored: the whole blob, 200. ``If-Range`` with a stale validator
falls back to the whole blob. ``HEAD`` answers the same headers without a body. The body comes from
:meth:`ArtifactStore.iter_range`, chunk by chunk.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from fastapi import Request
from starlette.responses import StreamingResponse

from api.errors import SERVER_ERROR, APIError
from store.artifacts import ArtifactStore

logger = logging.getLogger("api.blobs")

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.IGNORECASE)


class Unsatisfiable(ValueError):
    """A well-formed byte range that selects no byte of the blob (416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` a single-range ``Range`` header asks for; ``None`` when the header is
    to be ignored (RFC 9110: another unit, several ranges, or not parseable); :class:`Unsatisfiable` when
    it selects nothing of the blob."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        # "bytes=-n": the last n bytes.
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable("an empty suffix range selects nothing")
        return max(0, size - length), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # "bytes=5-2" is not a valid range: ignored
    if start >= size:
        raise Unsatisfiable(f"range starts at {start}, the blob has {size} bytes")
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def blob_response(
    request: Request,
    artifacts: ArtifactStore,
    key: str,
    *,
    sha256: str,
    filename: str,
    media_type: str = "application/octet-stream",
) -> StreamingResponse:
    """The blob at ``key``, whole (200) or the requested range (206); 416 for a range it cannot serve."""
    try:
        size = artifacts.size(key)
    except FileNotFoundError:
        logger.error("blob %s is missing from the artifact store although its row is live", key)
        raise APIError(
            500, "The stored content of this object is missing on the server.", type=SERVER_ERROR, code="content_missing"
        ) from None
    etag = f'"{sha256}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "X-Content-SHA256": sha256,
        # RFC 6266 / 5987: the caller's label, percent-encoded, can never break out of the header.
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(filename, safe='')}",
    }
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    wanted: tuple[int, int] | None = None
    if range_header and (if_range is None or if_range.strip() == etag):
        try:
            wanted = parse_range(range_header, size)
        except Unsatisfiable as exc:
            raise APIError(
                416,
                f"Range not satisfiable: {exc}.",
                param="Range",
                code="range_not_satisfiable",
                headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
            ) from None
    head = request.method == "HEAD"
    if wanted is not None:
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        body = iter(()) if head else artifacts.iter_range(key, start, end)
        return StreamingResponse(body, status_code=206, headers=headers, media_type=media_type)
    headers["Content-Length"] = str(size)
    body = artifacts.iter_range(key) if size and not head else iter(())
    return StreamingResponse(body, status_code=200, headers=headers, media_type=media_type)
