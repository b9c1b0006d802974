"""OpenAI's Uploads API (``/v1/uploads``): a corpus sent in parts becomes one validated file; the parts'
blobs go once it is completed or cancelled; sizes, order and ownership are checked with clear 4xx."""

from __future__ import annotations

from typing import Any

import openai
from fastapi.testclient import TestClient

from store.settings import Settings
from tests.api.conftest import Caller, corpus_bytes, stored_blobs

UPLOADS = "/v1/uploads"


def _create(client: TestClient, caller: Caller, nbytes: int, **extra: Any) -> Any:
    body = {"filename": "big.jsonl", "purpose": "fine-tune", "bytes": nbytes, "mime_type": "application/jsonl", **extra}
    return client.post(UPLOADS, json=body, headers=caller.headers)


def _part(client: TestClient, caller: Caller, upload_id: str, data: bytes) -> Any:
    return client.post(f"{UPLOADS}/{upload_id}/parts", files={"data": ("blob", data)}, headers=caller.headers)


def test_parts_completed_in_order_become_one_validated_file_and_the_parts_go(
    client: TestClient, caller: Caller, api_settings: Settings
) -> None:
    data = corpus_bytes(40)
    created = _create(client, caller, len(data))
    assert created.status_code == 200, created.text
    upload = created.json()
    assert (upload["object"], upload["status"], upload["bytes"], upload["file"]) == ("upload", "pending", len(data), None)
    cut = len(data) // 3
    # Sent out of order on purpose: completion follows the order of part_ids, not arrival.
    second = _part(client, caller, upload["id"], data[cut:]).json()
    first = _part(client, caller, upload["id"], data[:cut]).json()
    assert first["object"] == "upload.part" and first["upload_id"] == upload["id"]
    before = stored_blobs(api_settings)

    done = client.post(
        f"{UPLOADS}/{upload['id']}/complete", json={"part_ids": [first["id"], second["id"]]}, headers=caller.headers
    )

    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed" and body["file"]["status"] == "processed" and body["file"]["n_examples"] == 40
    assert client.get(f"/v1/files/{body['file']['id']}/content", headers=caller.headers).content == data
    after = stored_blobs(api_settings)
    assert len(after) == len(before) - 1  # two parts gone, one file blob added
    again = _part(client, caller, upload["id"], b"x")
    assert again.status_code == 409 and "completed" in again.json()["error"]["message"]


def test_sizes_order_and_corpus_are_checked_and_nothing_is_half_stored(
    client: TestClient, caller: Caller, api_settings: Settings
) -> None:
    data = corpus_bytes(10)
    upload = _create(client, caller, len(data)).json()
    too_big = _part(client, caller, upload["id"], data + b"more")
    assert too_big.status_code == 413
    part = _part(client, caller, upload["id"], data[:20]).json()
    short = client.post(f"{UPLOADS}/{upload['id']}/complete", json={"part_ids": [part["id"]]}, headers=caller.headers)
    assert (
        short.status_code == 400
        and short.json()["error"]["param"] == "part_ids"
        and "announced" in short.json()["error"]["message"]
    )
    twice = client.post(f"{UPLOADS}/{upload['id']}/complete", json={"part_ids": [part["id"], part["id"]]}, headers=caller.headers)
    assert twice.status_code == 400 and twice.json()["error"]["param"] == "part_ids"
    rest = _part(client, caller, upload["id"], data[20:]).json()
    swapped = client.post(
        f"{UPLOADS}/{upload['id']}/complete", json={"part_ids": [rest["id"], part["id"]]}, headers=caller.headers
    )
    assert swapped.status_code == 400 and swapped.json()["error"]["param"] == "file"  # not a corpus in that order

    cancelled = client.post(f"{UPLOADS}/{upload['id']}/cancel", headers=caller.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert not any("upload-parts" in str(p) for p in stored_blobs(api_settings))
    assert client.get("/v1/files", headers=caller.headers).json()["data"] == []


def test_bad_creation_fields_and_another_projects_upload(client: TestClient, caller: Caller, other_caller: Caller) -> None:
    for nbytes in (0, 10**30):
        refused = _create(client, caller, nbytes)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "bytes"
    wrong = _create(client, caller, 10, purpose="assistants")
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "purpose"
    upload = _create(client, caller, 10).json()
    assert _part(client, other_caller, upload["id"], b"x").status_code == 404
    assert client.post(f"{UPLOADS}/{upload['id']}/cancel", headers=other_caller.headers).status_code == 404
    no_body = client.post(f"{UPLOADS}/{upload['id']}/complete", headers=caller.headers)
    assert no_body.status_code == 400 and no_body.json()["error"]["param"] == "part_ids"


def test_the_openai_client_uploads_in_parts(client: TestClient, caller: Caller) -> None:
    sdk = openai.OpenAI(api_key=caller.key, base_url=str(client.base_url) + "/v1", http_client=client, max_retries=0)
    data = corpus_bytes(12)
    upload = sdk.uploads.create(filename="de-en.jsonl", purpose="fine-tune", bytes=len(data), mime_type="application/jsonl")
    parts = [sdk.uploads.parts.create(upload.id, data=chunk) for chunk in (data[:100], data[100:])]
    done = sdk.uploads.complete(upload.id, part_ids=[p.id for p in parts])
    assert done.status == "completed" and done.file is not None
    assert sdk.files.content(done.file.id).content == data
