"""Parallel corpora: read, validate and write translation pairs.

The web process validates every upload with :func:`validate_corpus`, so this package imports only the
standard library (and :mod:`radis_core.languages`; numpy once a corpus is validated, to find duplicates):
no torch, no transformers.

Accepted formats (one per file; line numbers are 1-based physical lines, the CSV/TSV header is line 1):

``jsonl_pairs``
    ``{"source": "...", "target": "...", "src_lang": "de", "tgt_lang": "en"}`` per line. ``src_lang`` /
    ``tgt_lang`` may be left out when the caller passes them.
``jsonl_translation``
    Hugging Face style ``{"translation": {"de": "...", "en": "..."}}``. Which side is the source: the
    record's own ``src_lang``/``tgt_lang`` if present, else the caller's, else the key order of the
    ``translation`` object (first key = source, second = target; then it must have exactly two keys).
``jsonl_chat``
    OpenAI chat fine-tuning lines ``{"messages": [system?, user, assistant]}``: the user turn is the
    source and the assistant turn the target. A user turn that starts with an instruction such as
    ``Translate the following text from German to English.\\n\\n<text>`` has the instruction stripped
    and the languages read from it. Multi-turn conversations are not translation pairs (an error).
``tsv`` / ``csv``
    A header row naming the columns ``source`` and ``target`` (optionally ``src_lang``, ``tgt_lang``;
    other columns are ignored with a warning), or exactly two language-code columns such as ``de,en``.
    CSV follows RFC 4180 (quoted fields may span lines; a record is numbered by its first line, the
    delimiter is ``;`` when the header has ``;`` and no ``,``). TSV is the plain tab-separated format:
    one record per line, no quoting, so a text may not contain a tab or a newline.

Languages: a value in the record wins over an instruction in a chat line, which wins over the
caller's ``src_lang``/``tgt_lang`` (the caller's values fill in what a record leaves out). Codes are
normalised (``deu``/``de-DE`` → ``de``). Texts are stripped of surrounding whitespace.

Problems are reported with the exact codes in :data:`PROBLEM_CODES`. Errors make a report not ``ok``;
warnings do not: ``bom`` (a UTF-8 byte-order mark, stripped), ``duplicate`` (an identical pair seen
earlier; only the first one is kept), ``source_equals_target`` (kept: names and numbers legitimately
match), ``mixed_language_pairs`` and ``ignored_columns``. Everything else is an error, and a line
with an error contributes no pair.

Every size, count and length limit (line bytes, tokens a pair, pairs needed, problems stored, excerpt
length, ...) is a field of :class:`CorpusLimits`; pass one as ``limits=`` to change them.

The modules, in the order data flows through them:

- :mod:`~radis_core.corpus.limits`: :class:`CorpusLimits`, the token estimate.
- :mod:`~radis_core.corpus.lines`: physical lines, bounded, decoded as UTF-8.
- :mod:`~radis_core.corpus.formats`: :func:`detect_format`.
- :mod:`~radis_core.corpus.fields`: field checks shared by every format.
- :mod:`~radis_core.corpus.jsonl` and :mod:`~radis_core.corpus.table`: JSON Lines and CSV/TSV records.
- :mod:`~radis_core.corpus.reading`: :func:`iter_records`, a file as a stream of :class:`Record`.
- :mod:`~radis_core.corpus.duplicates`: repeated pairs, in about 12 bytes a distinct pair.
- :mod:`~radis_core.corpus.validate`: :func:`validate_corpus`, :func:`load_corpus`, :func:`read_pairs`.
- :mod:`~radis_core.corpus.report`: :class:`Problem`, :class:`ValidationReport`, the problem codes.
- :mod:`~radis_core.corpus.records`: :class:`Pair`, :class:`Record`.
- :mod:`~radis_core.corpus.writing`: :func:`write_jsonl`.
"""

from radis_core.corpus.formats import FORMATS, UnknownFormatError, detect_format
from radis_core.corpus.limits import DEFAULT_LIMITS, READ_LIMITS, CorpusLimits, approx_token_count
from radis_core.corpus.reading import RecordStream, iter_records
from radis_core.corpus.records import Pair, Record
from radis_core.corpus.report import PROBLEM_CODES, CorpusError, Problem, Severity, ValidationReport
from radis_core.corpus.validate import load_corpus, read_pairs, validate_corpus
from radis_core.corpus.writing import write_jsonl

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "PROBLEM_CODES",
    "READ_LIMITS",
    "CorpusError",
    "CorpusLimits",
    "Pair",
    "Problem",
    "Record",
    "RecordStream",
    "Severity",
    "UnknownFormatError",
    "ValidationReport",
    "approx_token_count",
    "detect_format",
    "iter_records",
    "load_corpus",
    "read_pairs",
    "validate_corpus",
    "write_jsonl",
]
