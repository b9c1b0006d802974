"""Every size, count and length limit of corpus reading and validation, in one frozen dataclass.

Callers that want other limits than the defaults (a test, a stricter server) build a
:class:`CorpusLimits` and pass it down; nothing else in the package hard-codes a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CorpusLimits:
    """The limits one validation (or one read) of a corpus applies.

    The defaults are what the service applies to an upload; ``radis-core validate``, the ``radis``
    CLI's local check and the training pipeline use the same ones (the pipeline asks only one pair of a
    validation file), so a training file that passes one passes all. Not here, because they change no result: the duplicate finder's batch and merge sizes
    (:mod:`radis_core.corpus.duplicates`, memory tuning) and I/O chunk sizes. Also not here: the
    ``csv`` module's process-wide ``field_size_limit`` (131,072 characters), which bounds one CSV field
    (reported as ``too_long``); changing it would change every other CSV reader in the process.
    """

    max_line_bytes: int = 1 << 20
    """Longest physical line (bytes, line ending excluded). A longer line is reported as ``too_long``
    and skipped without ever being held in memory whole."""

    max_tokens: int | None = 1024
    """Most tokens a pair's source plus target may have; a longer pair is ``too_long``. ``None``: no
    limit. Counted with the caller's ``count_tokens``, else :func:`approx_token_count`."""

    min_examples: int = 8
    """Fewest valid, distinct pairs a corpus must have; fewer is the ``too_few_examples`` error."""

    max_problems: int = 1000
    """Most problems a report stores (the first error and file-level problems are always stored);
    beyond it the report says ``truncated``, while ``n_errors``/``n_warnings`` still count all."""

    max_excerpt_chars: int = 80
    """Longest excerpt of the offending text stored with a problem (longer ones end in an ellipsis)."""

    max_quoted_chars: int = 40
    """Longest rendering of an offending value quoted inside a problem message (e.g. an unknown
    language code), JSON-quoted and ellipsised beyond it."""

    sniff_lines: int = 20
    """Non-blank lines :func:`~radis_core.corpus.formats.detect_format` looks at to tell which JSON
    Lines format a file is in."""

    def __post_init__(self) -> None:
        # A zero or negative limit would silently refuse (or accept) everything: fail at construction.
        for name in ("max_line_bytes", "max_excerpt_chars", "max_quoted_chars", "sniff_lines"):
            if getattr(self, name) < 1:
                raise ValueError(f"CorpusLimits.{name} must be at least 1, got {getattr(self, name)}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"CorpusLimits.max_tokens must be at least 1 or None, got {self.max_tokens}")
        for name in ("min_examples", "max_problems"):
            if getattr(self, name) < 0:
                raise ValueError(f"CorpusLimits.{name} must not be negative, got {getattr(self, name)}")


#: The service's limits (an upload, ``radis-core validate``, the training pipeline).
DEFAULT_LIMITS = CorpusLimits()

#: What :func:`~radis_core.corpus.validate.read_pairs` applies unless told otherwise: any non-empty,
#: error-free file (a strict read of data someone already chose), with no token budget.
READ_LIMITS = CorpusLimits(min_examples=1, max_tokens=None)


def approx_token_count(text: str) -> int:
    """Cheap token estimate used when no tokenizer is given: ``ceil(len(utf8 bytes) / 3)``.

    BPE tokenizers average about 4 bytes per token on English and about one token per CJK character
    (3 UTF-8 bytes), so dividing by 3 over-estimates rather than under-estimates: a pair it accepts
    fits the budget with almost any tokenizer.
    """
    return math.ceil(len(text.encode("utf-8")) / 3)
