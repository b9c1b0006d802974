"""/v1/files: streamed upload with validation, 413 past the limit, list/get/content/delete, project isolation."""

from __future__ import annotations

import hashlib
import json

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient

from store.settings import Settings
from tests.api.conftest import MAX_UPLOAD_BYTES, Caller, corpus_bytes, corpus_lines, stored_blobs, upload


def test_upload_stores_validates_and_describes_the_file(client: TestClient, caller: Caller, api_settings: Settings) -> None:
    content = corpus_bytes(10)
    response = upload(client, caller, content, filename="../../etc/de-en.jsonl")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "file"
    assert body["id"].startswith("file-")
    assert body["bytes"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["purpose"] == "fine-tune"
    assert body["status"] == "processed"
    assert body["n_examples"] == 10
    # The caller's name is a label only: its path part is dropped, and the blob is named by the server.
    assert body["filename"] == "de-en.jsonl"
    blobs = stored_blobs(api_settings)
    assert len(blobs) == 1 and blobs[0].name == body["id"]
    assert blobs[0].read_bytes() == content


def test_upload_keeps_validation_warnings(client: TestClient, caller: Caller) -> None:
    lines = corpus_lines(10)
    content = ("\n".join(lines + [lines[0]]) + "\n").encode()  # a duplicate is a warning, not an error
    body = upload(client, caller, content).json()
    assert body["status"] == "processed" and body["n_examples"] == 10
    assert [w["code"] for w in body["warnings"]] == ["duplicate"] and body["n_warnings"] == 1
    assert body["warnings"][0]["line"] == 11


def test_bad_corpus_is_refused_naming_the_line_and_nothing_is_kept(
    client: TestClient, caller: Caller, api_settings: Settings
) -> None:
    lines = corpus_lines(10)
    lines[6] = json.dumps({"source": "Satz sieben.", "target": "", "src_lang": "de", "tgt_lang": "en"})
    response = upload(client, caller, ("\n".join(lines) + "\n").encode())
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith('training file line 7: field "target" is empty')
    assert error["param"] == "file"
    assert error["code"] == "empty_field"
    assert error["type"] == "invalid_request_error"
    assert error["details"]["problems"][0]["line"] == 7
    assert stored_blobs(api_settings) == []
    assert client.get("/v1/files", headers=caller.headers).json()["data"] == []


def test_upload_over_the_limit_is_413_while_streaming_and_leaves_nothing(
    client: TestClient, caller: Caller, api_settings: Settings
) -> None:
    # Slightly over the limit: Content-Length passes the early check, the streamed byte count catches it.
    content = b"x" * (MAX_UPLOAD_BYTES + 1)
    response = upload(client, caller, content)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert response.json()["error"]["param"] == "file"
    assert stored_blobs(api_settings) == []
    assert client.get("/v1/files", headers=caller.headers).json()["data"] == []


def test_upload_far_over_the_limit_is_refused_from_content_length(
    client: TestClient, caller: Caller, api_settings: Settings
) -> None:
    response = upload(client, caller, b"x" * (MAX_UPLOAD_BYTES + 200 * 1024))
    assert response.status_code == 413
    assert stored_blobs(api_settings) == []


def test_upload_exactly_at_the_limit_is_accepted(client: TestClient, caller: Caller) -> None:
    content = corpus_bytes(10)
    padding = MAX_UPLOAD_BYTES - len(content)
    content += b"\n" * padding  # blank lines are allowed in JSON Lines
    assert len(content) == MAX_UPLOAD_BYTES
    assert upload(client, caller, content).status_code == 200


def test_form_problems_name_the_field(client: TestClient, caller: Caller, api_settings: Settings) -> None:
    missing_purpose = upload(client, caller, corpus_bytes(), purpose=None)
    assert missing_purpose.status_code == 400 and missing_purpose.json()["error"]["param"] == "purpose"
    wrong_purpose = upload(client, caller, corpus_bytes(), purpose="assistants")
    assert wrong_purpose.status_code == 400 and wrong_purpose.json()["error"]["param"] == "purpose"
    no_file = client.post("/v1/files", files={"purpose": (None, "fine-tune")}, headers=caller.headers)
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    not_multipart = client.post("/v1/files", json={"purpose": "fine-tune"}, headers=caller.headers)
    assert not_multipart.status_code == 400 and not_multipart.json()["error"]["code"] == "invalid_multipart"
    assert stored_blobs(api_settings) == []


def test_truncated_multipart_body_is_refused(client: TestClient, caller: Caller, api_settings: Settings) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="t.jsonl"\r\n\r\n' + corpus_bytes()
    )
    response = client.post(
        "/v1/files", content=body, headers={**caller.headers, "Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    assert response.status_code == 400
    assert "closing boundary" in response.json()["error"]["message"]
    assert stored_blobs(api_settings) == []


def test_list_get_content_and_delete(client: TestClient, caller: Caller, api_settings: Settings) -> None:
    first = upload(client, caller, corpus_bytes(10), filename="a.jsonl").json()
    second = upload(client, caller, corpus_bytes(12, start=100), filename="b.jsonl").json()

    listed = client.get("/v1/files", headers=caller.headers).json()
    assert listed["object"] == "list"
    assert [f["id"] for f in listed["data"]] == [second["id"], first["id"]]
    page = client.get("/v1/files", params={"limit": 1}, headers=caller.headers).json()
    assert [f["id"] for f in page["data"]] == [second["id"]] and page["has_more"] is True
    rest = client.get("/v1/files", params={"limit": 1, "after": second["id"]}, headers=caller.headers).json()
    assert [f["id"] for f in rest["data"]] == [first["id"]] and rest["has_more"] is False
    assert client.get("/v1/files", params={"purpose": "batch"}, headers=caller.headers).json()["data"] == []

    assert client.get(f"/v1/files/{first['id']}", headers=caller.headers).json() == first
    content = client.get(f"/v1/files/{first['id']}/content", headers=caller.headers)
    assert content.status_code == 200
    assert content.content == corpus_bytes(10)
    assert content.headers["content-length"] == str(first["bytes"])
    assert content.headers["x-content-sha256"] == first["sha256"]

    deleted = client.delete(f"/v1/files/{first['id']}", headers=caller.headers)
    assert deleted.json() == {"id": first["id"], "object": "file", "deleted": True}
    gone = client.get(f"/v1/files/{first['id']}", headers=caller.headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert [p.name for p in stored_blobs(api_settings)] == [second["id"]]


def test_another_projects_file_is_404(client: TestClient, caller: Caller, other_caller: Caller, api_settings: Settings) -> None:
    mine = upload(client, caller, corpus_bytes()).json()
    for method, path in (("GET", ""), ("GET", "/content"), ("DELETE", "")):
        response = client.request(method, f"/v1/files/{mine['id']}{path}", headers=other_caller.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert client.get("/v1/files", headers=other_caller.headers).json()["data"] == []
    assert len(stored_blobs(api_settings)) == 1


def _multipart(content: bytes, boundary: str = "b0undary") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.jsonl"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        + content
        + (f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--{boundary}--\r\n').encode()
    )


def _post_in_chunks(
    app: FastAPI, caller: Caller, body: bytes, chunk_size: int, *, hang_up_after: int | None = None
) -> tuple[int, dict]:
    """POST /v1/files straight to the ASGI app, the body in ``chunk_size`` pieces (TestClient would send it
    in one) and without Content-Length, as a chunked upload arrives; ``hang_up_after`` chunks, the client
    disconnects."""
    messages = [
        {"type": "http.request", "body": body[i : i + chunk_size], "more_body": i + chunk_size < len(body)}
        for i in range(0, len(body), chunk_size)
    ][:hang_up_after]
    sent: list[dict] = []
    headers = [
        (b"authorization", caller.headers["Authorization"].encode()),
        (b"content-type", b"multipart/form-data; boundary=b0undary"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/files",
        "raw_path": b"/v1/files",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


def test_a_body_arriving_in_tiny_chunks_is_reassembled_exactly(app: FastAPI, caller: Caller, api_settings: Settings) -> None:
    content = corpus_bytes(10)
    # 7-byte chunks split the boundaries and part headers at every possible place.
    status, body = _post_in_chunks(app, caller, _multipart(content), 7)
    assert status == 200, body
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    (blob,) = stored_blobs(api_settings)
    assert blob.read_bytes() == content


def test_a_chunked_body_without_length_is_still_cut_at_the_limit(app: FastAPI, caller: Caller, api_settings: Settings) -> None:
    status, body = _post_in_chunks(app, caller, _multipart(b"y" * (3 * MAX_UPLOAD_BYTES)), 1024)
    assert status == 413 and body["error"]["code"] == "file_too_large"
    assert stored_blobs(api_settings) == []


def test_a_client_hanging_up_mid_upload_leaves_nothing(app: FastAPI, caller: Caller, api_settings: Settings) -> None:
    status, _ = _post_in_chunks(app, caller, _multipart(corpus_bytes(10)), 100, hang_up_after=5)
    assert status == 400
    assert stored_blobs(api_settings) == []
