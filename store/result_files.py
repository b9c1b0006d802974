"""The kinds of files the service keeps: their purposes, where their blobs live, and what a job's result
files are called. The worker names result files by this table and the API finds them by it.

A finished job's result files (``job.result_files``) are ordinary files of its project with purpose
:data:`RESULT_PURPOSE`, told apart by their name: ``<job id>-metrics.csv`` (first, as OpenAI's),
``<job id>-adapter.tar.gz``, ``<job id>-report.json``, ``<job id>-rationales.jsonl`` and, when asked for,
``<job id>-merged.tar.gz``. Their ids are file ids (``file-…``, :func:`store.ids.new_file_id`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Artifact key prefix of every file blob, uploaded or produced by a job.
FILES_PREFIX = "files"
#: The ``purpose`` of a training or validation file a caller uploads (the only one this service accepts).
UPLOAD_PURPOSE = "fine-tune"
#: The purposes accepted on upload.
UPLOAD_PURPOSES: tuple[str, ...] = (UPLOAD_PURPOSE,)
#: The ``purpose`` of files a job produced (OpenAI's name for fine-tuning result files).
RESULT_PURPOSE = "fine-tune-results"


@dataclass(frozen=True)
class ResultKind:
    """One kind of result file: its name ends with ``suffix``; ``label`` names it in messages."""

    suffix: str
    label: str

    def filename(self, job_id: str) -> str:
        """The file name a job's result of this kind gets: ``<job id>-<suffix>``."""
        return f"{job_id}-{self.suffix}"

    def matches(self, filename: str) -> bool:
        """True when ``filename`` is a result file of this kind."""
        return filename.endswith(self.suffix)


#: OpenAI's metrics CSV (``step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy``), one
#: row per training step: a job's first result file, where OpenAI clients read it.
METRICS = ResultKind("metrics.csv", "metrics CSV")
#: The trained PEFT adapter, a tar.gz whose single top folder is :func:`adapter_root_name`.
ADAPTER = ResultKind("adapter.tar.gz", "adapter")
#: The evaluation report (JSON): translation quality and retention, base vs tuned.
REPORT = ResultKind("report.json", "evaluation report")
#: The rationales a RaDis job trained on (JSON Lines); a supervised job has none.
RATIONALES = ResultKind("rationales.jsonl", "rationales")
#: The rewrites an SDFT job trained on (JSON Lines).
REWRITES = ResultKind("rewrites.jsonl", "rewrites")
#: The teacher translations a SeqKD job trained on (JSON Lines).
TEACHER_TRANSLATIONS = ResultKind("teacher_translations.jsonl", "teacher translations")
#: The per-pair teacher texts of each generating method (what the dashboard and ``/rationales`` browse).
SAMPLES_BY_METHOD: dict[str, ResultKind] = {"radis": RATIONALES, "sdft": REWRITES, "seqkd": TEACHER_TRANSLATIONS}
#: The adapter merged into the base weights, a tar.gz of a Hugging Face model folder (only when the job's
#: ``output.merged_model`` asked for it).
MERGED = ResultKind("merged.tar.gz", "merged model")
#: The kinds that are the model itself: deleting a fine-tuned model (``DELETE /v1/models/{id}``) deletes these.
MODEL_WEIGHTS: tuple[ResultKind, ...] = (ADAPTER, MERGED)
#: Every kind, in the order a job publishes them.
RESULT_KINDS: tuple[ResultKind, ...] = (METRICS, ADAPTER, REPORT, RATIONALES, REWRITES, TEACHER_TRANSLATIONS, MERGED)


def adapter_root_name(job_id: str) -> str:
    """The top folder inside a job's adapter archive."""
    return f"{job_id}-adapter"


def merged_root_name(job_id: str) -> str:
    """The top folder inside a job's merged-model archive."""
    return f"{job_id}-merged"
