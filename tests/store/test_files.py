"""File rows: project scoping, listing with cursors, soft delete (quota and in-use rules: test_usage.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.files import delete_file, get_file, list_files
from store.ids import new_file_id
from store.models import FileStatus, Project
from store.projects import create_project

from .conftest import add_file


def test_create_and_get_file(db_session: Session, project: Project) -> None:
    row = add_file(db_session, project.id, "pairs.jsonl", nbytes=123, validation={"pairs": 3}, n_examples=3)
    assert row.id.startswith("file-")
    got = get_file(db_session, project.id, row.id)
    assert (got.filename, got.bytes, got.status, got.validation, got.n_examples) == (
        "pairs.jsonl",
        123,
        FileStatus.PROCESSED,
        {"pairs": 3},
        3,
    )
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at_unix - int(got.created_at.timestamp())) == 0


def test_caller_chosen_id_must_be_a_store_id(db_session: Session, project: Project) -> None:
    chosen = new_file_id()
    assert add_file(db_session, project.id, file_id=chosen).id == chosen
    with pytest.raises(ValueError, match="file_id"):
        add_file(db_session, project.id, file_id="../../etc/passwd")


def test_another_projects_file_is_not_found(db_session: Session, project: Project) -> None:
    other = create_project(db_session, "other")
    row = add_file(db_session, other.id)
    with pytest.raises(NotFound) as caught:
        get_file(db_session, project.id, row.id, param="training_file")
    assert caught.value.param == "training_file"
    assert str(caught.value) == f"No such file: {row.id}"


def test_deleted_file_is_not_found_and_not_listed(db_session: Session, project: Project) -> None:
    row = add_file(db_session, project.id)
    assert delete_file(db_session, project.id, row.id).deleted_at is not None
    with pytest.raises(NotFound):
        get_file(db_session, project.id, row.id)
    assert list_files(db_session, project.id) == ([], False)
    with pytest.raises(NotFound):
        delete_file(db_session, project.id, row.id)


def test_list_files_newest_first_with_after_cursor_and_purpose(db_session: Session, project: Project) -> None:
    rows = [add_file(db_session, project.id, f"f{i}.jsonl") for i in range(5)]
    # Same created_at for two rows: the id breaks the tie, so pages neither repeat nor skip.
    rows[3].created_at = rows[2].created_at
    for i, row in enumerate(rows):
        if i != 3:
            row.created_at = rows[0].created_at + timedelta(seconds=i)
    result = add_file(db_session, project.id, "report.json", purpose="fine-tune-results")
    db_session.flush()

    newest_first = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    page1, more1 = list_files(db_session, project.id, purpose="fine-tune", limit=2)
    page2, more2 = list_files(db_session, project.id, purpose="fine-tune", limit=2, after=page1[-1].id)
    page3, more3 = list_files(db_session, project.id, purpose="fine-tune", limit=2, after=page2[-1].id)
    assert [r.id for r in page1 + page2 + page3] == [r.id for r in newest_first]
    assert (more1, more2, more3) == (True, True, False)

    oldest_first, _ = list_files(db_session, project.id, purpose="fine-tune", order="asc")
    assert [r.id for r in oldest_first] == [r.id for r in reversed(newest_first)]
    assert [r.id for r in list_files(db_session, project.id, purpose="fine-tune-results")[0]] == [result.id]


def test_list_files_rejects_bad_arguments(db_session: Session, project: Project) -> None:
    with pytest.raises(ValueError, match="limit"):
        list_files(db_session, project.id, limit=0)
    with pytest.raises(ValueError, match="order"):
        list_files(db_session, project.id, order="sideways")
    with pytest.raises(NotFound) as caught:
        list_files(db_session, project.id, after="file-missing")
    assert caught.value.param == "after"
