"""RaDis — Rationale Distillation (Wu et al., Findings of ACL 2025, arXiv 2410.13944) as a library.

Fine-tune a chat LLM for translation on "reference translation + the model's own explanation of it",
so that it learns to translate without forgetting its general abilities.

This package imports no torch at module level: ``radis_core.corpus`` and ``radis_core.config`` are
used by the web process, which must start small. Heavy imports live inside the functions that need
them. Entry point for programs: :func:`radis_core.pipeline.run_job`.
"""

__version__ = "0.1.0"
