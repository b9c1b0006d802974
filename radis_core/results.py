"""The last step of a run: the adapter, ``report.json``/``report.md`` and the teacher's per-pair texts in the output folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radis_core.config import SEPARATOR, JobSpec
from radis_core.evaluation.before_after import Evaluation
from radis_core.hashing import sha256_file
from radis_core.job_data import JobData
from radis_core.settings import ResolvedHyperparameters, rationale_of


@dataclass(frozen=True)
class Trained:
    """What the training step produced: the model with its adapter, and how training went."""

    model: Any
    hyperparameters: ResolvedHyperparameters
    result: Any  # radis_core.training.TrainResult
    examples: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The report's ``training`` section."""
        r = self.result
        return {
            "steps": r.steps,
            "trained_tokens": r.trained_tokens,
            "final_loss": r.losses[-1] if r.losses else None,
            "first_loss": r.losses[0] if r.losses else None,
            "losses": r.losses,
            "resumed_from": r.resumed_from,
            "tokens_per_second": round(r.tokens_per_second, 1),
            "padding_share": round(r.padding_share, 4),
            "examples": self.examples,
            "hyperparameters": self.hyperparameters.to_dict(),
        }


def adapter_meta(spec: JobSpec, model_source: Any, data: JobData, trained: Trained, evaluation: Evaluation) -> dict[str, Any]:
    """``meta.json`` beside the adapter: where it came from, how it was trained, what it scored."""
    rationale = rationale_of(spec.settings)
    return {
        "base_model": spec.model,
        # The public id adapter_config.json and the card name; the local folder trained on stays here only.
        "base_model_id": model_source.public_id,
        "base_model_path": model_source.path,
        "base_model_kind": model_source.kind,
        "base_model_license": model_source.license,
        "base_model_provenance": model_source.provenance,
        "base_model_fingerprint": model_source.fingerprint,
        "method": spec.method,
        "seed": spec.seed,
        "hyperparameters": trained.hyperparameters.to_dict(),
        "rationale": rationale.model_dump() if rationale else None,
        # Every section as run (rationale prompt mode and decoding, SDFT/SeqKD teacher settings, evaluation).
        "settings": spec.settings.model_dump(mode="json"),
        "separator": SEPARATOR,
        "translation_template": spec.translation_template,
        "data": {
            "train_sha256": sha256_file(Path(spec.train_file)),
            "valid_sha256": sha256_file(Path(spec.valid_file)) if spec.valid_file else None,
        },
        "metrics": {
            "base": {k: evaluation.base.translation.get(k) for k in ("bleu", "chrf")},
            "tuned": {k: evaluation.tuned.translation.get(k) for k in ("bleu", "chrf")},
            "retention_overall": (evaluation.retention or {}).get("overall"),
        },
        "language_pairs": data.language_pairs,
    }


def write_samples(path: Path, samples: list[dict[str, Any]]) -> None:
    """One JSON line per training pair: source, reference, the teacher's text, whether it was kept and why not."""
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
