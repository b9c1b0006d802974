"""Stream a stored blob as an HTTP response, with single-range ``Range`` support (resumable downloads).

``Range: bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` get ``206 Partial Content`` and ``Content-Range``;
a range that does not fit the blob, a malformed header or several ranges get ``416`` with
``Content-Range: bytes */<size>``. ``If-Range`` with a stale validator falls back to the whole blob.
The body comes from :meth:`ArtifactStore.iter_range`, chunk by chunk.
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

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int]:
    """The inclusive ``(start, end)`` a single-range ``Range`` header asks for; ``ValueError`` when unsatisfiable."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        raise ValueError("only a single byte range such as 'bytes=0-1023' is supported")
    first, last = match.groups()
    if not first and not last:
        raise ValueError("a byte range needs a start or a length")
    if not first:
        # "bytes=-n": the last n bytes.
        length = int(last)
        if length == 0 or size == 0:
            raise ValueError("an empty suffix range selects nothing")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise ValueError(f"range starts at {start}, the blob has {size} bytes")
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
    if range_header and (if_range is None or if_range.strip() == etag):
        try:
            start, end = parse_range(range_header, size)
        except ValueError as exc:
            raise APIError(
                416,
                f"Range not satisfiable: {exc}.",
                param="Range",
                code="range_not_satisfiable",
                headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
            ) from None
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        return StreamingResponse(artifacts.iter_range(key, start, end), status_code=206, headers=headers, media_type=media_type)
    headers["Content-Length"] = str(size)
    body = artifacts.iter_range(key) if size else iter(())
    return StreamingResponse(body, status_code=200, headers=headers, media_type=media_type)
