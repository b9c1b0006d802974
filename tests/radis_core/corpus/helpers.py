"""Small builders shared by the corpus tests: files, JSON lines, and views of a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radis_core.corpus import Problem, ValidationReport

#: The repository root (subprocess probes run there so that ``radis_core`` is importable).
REPO_ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def jl(**record: Any) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def pairs_file(tmp_path: Path, n: int, name: str = "c.jsonl") -> Path:
    return write(
        tmp_path, name, "".join(jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en") for i in range(n))
    )


def codes_at(report: ValidationReport) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in report.problems]


def only(report: ValidationReport, code: str) -> list[Problem]:
    return [p for p in report.problems if p.code == code]
