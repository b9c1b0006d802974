"""Offline evaluation of a RaDis job: translation quality and general-ability retention, base vs tuned.

No torch here: the model is reached through :class:`~radis_core.evaluation.probe_runs.ChatModel`,
which the pipeline implements.
"""

from radis_core.evaluation.checks import CHECK_TYPES, evaluate_checks, parse_check
from radis_core.evaluation.probe_runs import ChatModel, run_benchmarks
from radis_core.evaluation.probes import PROBE_SCHEMAS, load_probes
from radis_core.evaluation.report import build_report, render_markdown
from radis_core.evaluation.retention import (
    BENCHMARKS,
    BenchmarkRun,
    BenchmarkScore,
    ItemResult,
    compare,
    extract_final_number,
    is_refusal,
)
from radis_core.evaluation.translation import comet_scores, extract_translation, translation_scores

__all__ = [
    "BENCHMARKS",
    "CHECK_TYPES",
    "PROBE_SCHEMAS",
    "BenchmarkRun",
    "BenchmarkScore",
    "ChatModel",
    "ItemResult",
    "build_report",
    "comet_scores",
    "compare",
    "evaluate_checks",
    "extract_final_number",
    "extract_translation",
    "is_refusal",
    "load_probes",
    "parse_check",
    "render_markdown",
    "run_benchmarks",
    "translation_scores",
]
