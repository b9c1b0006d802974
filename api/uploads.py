"""Stream a ``multipart/form-data`` upload straight into the artifact store.

FastAPI's ``UploadFile`` would spool the whole file before the endpoint runs and enforce no size limit.
Here python-multipart's incremental parser is fed the raw request body as it arrives; the bytes of the
``file`` part go to :meth:`ArtifactStore.save_stream` (hashed on the way, written to a temporary file
that becomes the blob only when complete), and the store raises :class:`~store.artifacts.TooLarge` the
moment the limit is passed. Small text fields (``purpose``) are collected with a size cap.

``save_stream`` is synchronous (file I/O), the request body asynchronous. The event loop reads the body
as it arrives (network chunks, often 64 KiB or less) and gathers it; a worker thread takes what has
been gathered in buffers of about :data:`HANDOFF_BYTES`, parses them, hashes and writes the file bytes,
while the loop goes on reading. That is one thread hop per buffer rather than per network chunk, and
reading overlaps writing. When :data:`GATHER_LIMIT_BYTES` wait for the thread, the loop stops reading
(and the client sending), so an upload holds a bounded few MiB of memory whatever its size.
"""

from __future__ import annotations

import asyncio
import codecs
import unicodedata
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import anyio
import anyio.from_thread
import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from api.errors import APIError
from store.artifacts import ArtifactStore, StoredBlob, TooLarge

#: Bytes of multipart framing (boundaries, part headers, small fields) allowed beyond the file limit when
#: checking ``Content-Length`` up front, and when counting a body sent without one as it is read (so the
#: loop, which reads ahead of the storing thread, stops there); the file itself is counted exactly.
FORM_OVERHEAD_BYTES = 64 * 1024
#: Largest value of a non-file field.
MAX_FIELD_BYTES = 1024
#: Longest filename kept (the label is display-only; the column holds 512).
MAX_FILENAME_CHARS = 255
#: The storing thread takes the body in buffers of about this size (it waits up to
#: :data:`HANDOFF_WAIT_S` for one to fill). Larger buffers mean fewer hops and fewer GIL hand-overs
#: between the loop and the thread (in a loopback test 4 MiB streamed a little faster than 1 MiB).
HANDOFF_BYTES = 4 << 20
#: How long the thread waits for a full buffer before taking what has come (a slow client's bytes reach
#: the disk as they arrive).
HANDOFF_WAIT_S = 0.05
#: The loop stops reading the body while this much waits for the thread (back-pressure): with the buffer
#: being written, an upload holds at most ~2 x 8 MiB whatever its size.
GATHER_LIMIT_BYTES = 2 * HANDOFF_BYTES


def _form_error(message: str, param: str | None = None) -> APIError:
    return APIError(400, message, param=param, code="invalid_multipart")


def multipart_boundary(content_type: str | None) -> tuple[bytes, str]:
    """The boundary and charset of a ``multipart/form-data`` content type; 400 when it is something else."""
    media_type, params = parse_options_header(content_type or "")
    if media_type != b"multipart/form-data":
        raise _form_error("Uploads must be sent as multipart/form-data with the fields 'file' and 'purpose'.")
    boundary = params.get(b"boundary")
    if not boundary:
        raise _form_error("The multipart/form-data content type has no boundary.")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "utf-8"
    return boundary, charset


def display_filename(raw: str) -> str:
    """A caller's filename made safe to show: last path segment, no control characters, bounded length."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:MAX_FILENAME_CHARS] or "upload"


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


class MultipartUpload:
    """Incremental parser of one upload: one file part named ``file_field`` plus small text fields.

    :meth:`feed` takes raw body bytes and returns the file bytes they contained; :attr:`fields` and
    :attr:`filename` are complete once :meth:`finish` ran.
    """

    def __init__(
        self, content_type: str | None, *, file_field: str = "file", allowed_fields: frozenset[str] = frozenset()
    ) -> None:
        boundary, self._charset = multipart_boundary(content_type)
        self.file_field = file_field
        self.allowed_fields = allowed_fields
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_seen = False
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._pending: list[bytes | memoryview] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )

    # --- parser callbacks (they run inside feed) -------------------------------------------------

    def _on_part_begin(self) -> None:
        self._part = _Part()
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._disposition)
        if disposition != b"form-data" or b"name" not in options:
            raise _form_error("A multipart part has no 'Content-Disposition: form-data; name=...' header.")
        part = self._part
        part.name = options[b"name"].decode(self._charset, errors="replace")
        if b"filename" in options:
            if part.name != self.file_field:
                raise _form_error(f"Unexpected file field {part.name!r}: send the file as '{self.file_field}'.", part.name)
            if self.file_seen:
                raise _form_error(f"Only one '{self.file_field}' may be uploaded per request.", self.file_field)
            part.is_file = True
            self.file_seen = True
            self.filename = display_filename(options[b"filename"].decode(self._charset, errors="replace"))
        elif part.name == self.file_field:
            raise _form_error(f"'{self.file_field}' must be a file part (with a filename).", self.file_field)
        elif part.name not in self.allowed_fields:
            raise _form_error(f"Unrecognized form field: '{part.name}'.", part.name)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.is_file:
            # A view, not a copy, of the (immutable) buffer being parsed; it is written before the next feed.
            self._pending.append(memoryview(data)[start:end] if type(data) is bytes else bytes(data[start:end]))
            return
        if len(part.data) + (end - start) > MAX_FIELD_BYTES:
            raise _form_error(f"The form field '{part.name}' is longer than {MAX_FIELD_BYTES} bytes.", part.name)
        part.data += data[start:end]

    def _on_part_end(self) -> None:
        part = self._part
        if not part.is_file:
            self.fields[part.name] = part.data.decode(self._charset, errors="replace")

    # --- driving ---------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[bytes | memoryview]:
        """Parse ``chunk``; return the file bytes found in it (possibly none; views of ``chunk``)."""
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise _form_error(f"The multipart body is malformed: {exc}") from None
        out, self._pending = self._pending, []
        return out

    def finish(self) -> None:
        """Check that the body ended with the closing boundary: a cut-off body must not become a file."""
        # python-multipart's finalize() does not check this (yet); its state does tell.
        if self._parser.state != MultipartState.END:
            raise _form_error("The multipart body ended before its closing boundary.")


class _Gathered:
    """Body bytes read by the event loop and not yet taken by the storing thread.

    Every method runs on the event loop (the thread calls :meth:`take` through
    :func:`anyio.from_thread.run`), so no lock is needed; waiting is on an event renewed at each change.
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.ended = False  # the body was read to its end, or reading stopped
        self._changed = anyio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def put(self, chunk: bytes) -> None:
        """Add a chunk of the body; wait first while :data:`GATHER_LIMIT_BYTES` are waiting."""
        while self.size >= GATHER_LIMIT_BYTES:
            await self._changed.wait()
        self.parts.append(chunk)
        self.size += len(chunk)
        self._notify()

    def end(self) -> None:
        """No more chunks will come."""
        self.ended = True
        self._notify()

    async def take(self) -> list[bytes] | None:
        """The chunks gathered so far, once they fill a buffer (or after :data:`HANDOFF_WAIT_S` with some
        gathered); ``None`` when the body is over. Not joined: a fresh multi-MiB buffer costs page faults."""
        with anyio.move_on_after(HANDOFF_WAIT_S):
            while self.size < HANDOFF_BYTES and not self.ended:
                await self._changed.wait()
        while not self.parts and not self.ended:
            await self._changed.wait()
        if not self.parts:
            return None
        taken, self.parts = self.parts, []
        self.size = 0
        self._notify()
        return taken


#: Threads that store uploads, apart from the shared pool (:func:`_upload_threads`). An upload beyond
#: them waits for one with at most :data:`GATHER_LIMIT_BYTES` read ahead; other requests do not wait.
UPLOAD_THREADS = 64
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _upload_threads() -> anyio.CapacityLimiter:
    """The uploads' thread limiter of the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(UPLOAD_THREADS)
    return _limiters[loop]


@dataclass
class ReceivedUpload:
    """A stored upload: the blob, the caller's (display) filename and the text fields."""

    blob: StoredBlob
    filename: str
    fields: dict[str, str]


async def receive_upload(
    body: AsyncIterator[bytes],
    content_type: str | None,
    artifacts: ArtifactStore,
    *,
    max_bytes: int,
    prefix: str,
    name: str,
    allowed_fields: frozenset[str],
    file_field: str = "file",
) -> ReceivedUpload:
    """Stream the file part of a multipart ``body`` into ``artifacts`` under ``prefix``/…/``name``.

    Raises :class:`~store.artifacts.TooLarge` past ``max_bytes`` file bytes (or ``max_bytes`` +
    :data:`FORM_OVERHEAD_BYTES` body bytes) and
    :class:`~api.errors.APIError` (400) for a malformed form or a missing file; in both cases nothing is
    kept. On success the caller owns the blob (and deletes it if a later check fails).
    """
    upload = MultipartUpload(content_type, file_field=file_field, allowed_fields=allowed_fields)
    gathered = _Gathered()
    blob: StoredBlob | None = None
    store_error: Exception | None = None
    read_error: Exception | None = None

    def file_bytes() -> Iterator[bytes | memoryview]:
        # Runs in the worker thread, inside save_stream: one hop to the event loop per buffer.
        while (chunks := anyio.from_thread.run(gathered.take)) is not None:
            for chunk in chunks:
                yield from upload.feed(chunk)
        upload.finish()

    def store() -> StoredBlob:
        return artifacts.save_stream(file_bytes(), max_bytes=max_bytes, prefix=prefix, name=name)

    async def store_in_thread() -> None:
        nonlocal blob, store_error
        try:
            # A thread of the uploads' own pool: a slow client keeps its thread waiting for bytes, and 40
            # of them must not take every thread of the shared pool that all other requests run on.
            blob = await anyio.to_thread.run_sync(store, limiter=_upload_threads())
        except Exception as exc:  # too large, a malformed form: reported below
            store_error = exc
            group.cancel_scope.cancel()  # nobody will store the rest of the body: stop reading it

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(store_in_thread)
            try:
                received = 0
                async for chunk in body:
                    received += len(chunk)
                    if received > max_bytes + FORM_OVERHEAD_BYTES:  # what a declared length may be at most
                        raise TooLarge(max_bytes)
                    await gathered.put(chunk)
            except Exception as exc:  # the client hung up, or sent too much: the thread sees a cut-off body
                read_error = exc
            finally:
                gathered.end()
    except BaseException:
        if blob is not None:  # cancelled from outside after the thread finished
            artifacts.delete(blob.key)
        raise
    error = read_error or store_error
    if error is not None:
        if blob is not None:  # the closing boundary came, then reading failed: keep nothing
            artifacts.delete(blob.key)
        raise error
    assert blob is not None
    if not upload.file_seen:
        artifacts.delete(blob.key)
        raise _form_error("Missing required parameter: 'file'.", "file")
    return ReceivedUpload(blob=blob, filename=upload.filename or "upload", fields=dict(upload.fields))
