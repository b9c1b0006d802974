"""The result-file table: the names a job's result files get and how the API tells them apart."""

from __future__ import annotations

from store.result_files import (
    ADAPTER,
    MERGED,
    MODEL_WEIGHTS,
    RATIONALES,
    REPORT,
    RESULT_KINDS,
    adapter_root_name,
    merged_root_name,
)


def test_result_file_names() -> None:
    job = "ftjob-0123456789abcdef01234567"
    assert [kind.filename(job) for kind in RESULT_KINDS] == [
        f"{job}-metrics.csv",
        f"{job}-adapter.tar.gz",
        f"{job}-report.json",
        f"{job}-rationales.jsonl",
        f"{job}-rewrites.jsonl",
        f"{job}-teacher_translations.jsonl",
        f"{job}-merged.tar.gz",
    ]
    assert adapter_root_name(job) == f"{job}-adapter" and merged_root_name(job) == f"{job}-merged"
    # Deleting a fine-tuned model deletes its weights in both forms.
    assert MODEL_WEIGHTS == (ADAPTER, MERGED)
    assert (ADAPTER.label, REPORT.label, RATIONALES.label) == ("adapter", "evaluation report", "rationales")


def test_each_result_file_matches_only_its_own_kind() -> None:
    for kind in RESULT_KINDS:
        name = kind.filename("ftjob-x")
        assert [other for other in RESULT_KINDS if other.matches(name)] == [kind]
    assert not any(kind.matches("train.jsonl") for kind in RESULT_KINDS)


def test_every_generating_method_has_its_samples_file() -> None:
    from radis_core.settings import METHODS
    from store.result_files import SAMPLES_BY_METHOD

    assert set(SAMPLES_BY_METHOD) == set(METHODS) - {"supervised"}
