"""Validating a corpus in one streaming pass: per-record problems, token budgets, duplicates, totals.

:func:`validate_corpus` (the report only), :func:`load_corpus` (pairs and report, lenient) and
:func:`read_pairs` (pairs, strict) all run the same :class:`_Scan`, so they can never disagree.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from radis_core import languages
from radis_core.corpus.duplicates import BATCH, DuplicateFinder, pair_digest
from radis_core.corpus.formats import UnknownFormatError, detect_format
from radis_core.corpus.limits import DEFAULT_LIMITS, READ_LIMITS, CorpusLimits, approx_token_count
from radis_core.corpus.lines import count_lines
from radis_core.corpus.reading import RecordStream
from radis_core.corpus.records import Pair
from radis_core.corpus.report import CorpusError, Problem, ProblemCollector, ValidationReport, make_problem, quote

TokenCounter = Callable[[str], int]


def _over_budget(pair: Pair, limits: CorpusLimits, count_tokens: TokenCounter | None) -> Problem | None:
    """The ``too_long`` problem of a pair whose source plus target exceed ``limits.max_tokens``, if any."""
    max_tokens = limits.max_tokens
    if max_tokens is None:
        return None
    # UTF-8 has at most 4 bytes a character, so short pairs cannot exceed the approximate budget:
    # skip measuring them (most pairs of a corpus) unless the caller counts tokens its own way.
    if count_tokens is None and 4 * (len(pair.source) + len(pair.target)) + 4 <= 3 * max_tokens:
        return None
    measure = count_tokens or approx_token_count
    n_source, n_target = measure(pair.source), measure(pair.target)
    if n_source + n_target <= max_tokens:
        return None
    return make_problem(
        "too_long",
        pair.line,
        f"pair is about {n_source + n_target} tokens (source {n_source} + target {n_target}), over the limit of {max_tokens}",
        pair.source,
        limits=limits,
        field="source" if n_source >= n_target else "target",
    )


class _Scan:
    """One pass's state: pairs are held back until a batch of them is checked for duplicates at once.

    The problems found meanwhile are held too, each with the number of held pairs before it, so that
    the report (order, cap) is exactly what checking each pair on arrival gives.
    """

    def __init__(self, found: ProblemCollector, limits: CorpusLimits, keep_pairs: bool):
        self.found = found
        self.limits = limits
        self.keep_pairs = keep_pairs
        self.duplicates = DuplicateFinder()
        self.held_pairs: list[Pair] = []
        self.held_digests = array("q")
        self.held_problems: list[tuple[int, Problem]] = []
        self.per_language: Counter[str] = Counter()
        self.n_pairs = 0
        self.pairs: list[Pair] = []

    def hold_problem(self, problem: Problem) -> None:
        """Hold a problem until the pairs before it are checked."""
        self.held_problems.append((len(self.held_pairs), problem))

    def hold_pair(self, pair: Pair) -> None:
        """Hold a pair until its batch is checked for duplicates."""
        self.held_digests.append(pair_digest(pair))
        self.held_pairs.append(pair)

    def flush_if_full(self) -> None:
        """Check the held batch once it is full (called between records)."""
        if len(self.held_pairs) >= BATCH or len(self.held_problems) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Check the held pairs for duplicates; pass the problems on in file order; keep the new pairs."""
        held_pairs, held_problems, found = self.held_pairs, self.held_problems, self.found
        firsts = self.duplicates.first_lines(self.held_digests, [p.line for p in held_pairs]) if held_pairs else []
        if any(firsts):
            kept: list[Pair] = []
            problems = iter(held_problems)
            waiting = next(problems, None)
            for index, (pair, first) in enumerate(zip(held_pairs, firsts, strict=True)):
                while waiting is not None and waiting[0] <= index:
                    found.add(waiting[1])
                    waiting = next(problems, None)
                if first:
                    found.add(
                        make_problem(
                            "duplicate",
                            pair.line,
                            f"duplicate of line {first}",
                            pair.source,
                            limits=self.limits,
                            severity="warning",
                        )
                    )
                else:
                    kept.append(pair)
            for _, problem in ([waiting] if waiting is not None else []) + list(problems):
                found.add(problem)
        else:
            kept = held_pairs
            for _, problem in held_problems:
                found.add(problem)
        self.per_language.update([f"{p.src_lang}-{p.tgt_lang}" for p in kept])
        self.n_pairs += len(kept)
        if self.keep_pairs:
            self.pairs.extend(kept)
        held_pairs.clear()
        del self.held_digests[:]
        held_problems.clear()


def _caller_languages(
    src_lang: str | None, tgt_lang: str | None, found: ProblemCollector, limits: CorpusLimits
) -> dict[str, str | None]:
    """The caller's languages, normalised; an unknown or repeated code is a file-level problem."""
    caller: dict[str, str | None] = {}
    for value, where in ((src_lang, "src_lang"), (tgt_lang, "tgt_lang")):
        try:
            caller[where] = languages.normalize(value) if value else None
        except ValueError:
            text = f"{where}: unknown language code {quote(value, limits)}"
            found.add(make_problem("unknown_language", None, text, limits=limits, field=where), always=True)
    if caller.get("src_lang") and caller.get("src_lang") == caller.get("tgt_lang"):
        text = f"src_lang and tgt_lang are both {caller['src_lang']}"
        found.add(make_problem("same_language", None, text, limits=limits, field="tgt_lang"), always=True)
    return caller


def _scan(
    path: str | os.PathLike[str],
    *,
    filename: str | None,
    src_lang: str | None,
    tgt_lang: str | None,
    limits: CorpusLimits,
    count_tokens: TokenCounter | None,
    keep_pairs: bool,
) -> tuple[list[Pair], ValidationReport]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such corpus file: {path}")
    found = ProblemCollector(limits.max_problems)
    caller = _caller_languages(src_lang, tgt_lang, found, limits)
    try:
        fmt = detect_format(path, filename, limits=limits)
    except UnknownFormatError as exc:
        found.add(make_problem("unknown_format", None, str(exc), limits=limits), always=True)
        text = f"no valid pairs; at least {limits.min_examples} are needed"
        found.add(make_problem("too_few_examples", None, text, limits=limits), always=True)
        return [], found.report("unknown", count_lines(path), 0, {})
    if found.n_errors:
        return [], found.report(fmt, count_lines(path), 0, {})

    stream = RecordStream(path, fmt, caller.get("src_lang"), caller.get("tgt_lang"), limits)
    scan = _Scan(found, limits, keep_pairs)
    for record in stream:
        for problem in record.problems:
            scan.hold_problem(problem)
        if record.pair is not None:
            too_long = _over_budget(record.pair, limits, count_tokens)
            if too_long is not None:
                scan.hold_problem(too_long)
            else:
                scan.hold_pair(record.pair)
        scan.flush_if_full()
    scan.flush()

    per_language, n_pairs = scan.per_language, scan.n_pairs
    if len(per_language) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in per_language.most_common())
        text = f"{len(per_language)} language pairs in one file: {listed}"
        found.add(make_problem("mixed_language_pairs", None, text, limits=limits, severity="warning"), always=True)
    if n_pairs < limits.min_examples:
        text = f"only {n_pairs} valid pair{'s' * (n_pairs != 1)}; at least {limits.min_examples} are needed"
        found.add(make_problem("too_few_examples", None, text, limits=limits), always=True)
    return scan.pairs, found.report(fmt, stream.n_lines, n_pairs, dict(per_language))


def validate_corpus(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    limits: CorpusLimits = DEFAULT_LIMITS,
    count_tokens: TokenCounter | None = None,
) -> ValidationReport:
    """Check a corpus file and say what is wrong with it, line by line; never raises on bad data.

    ``filename`` is the name the file had when uploaded (its extension picks the format).
    ``src_lang``/``tgt_lang`` fill in languages records leave out. ``limits`` bounds lines, tokens,
    the number of pairs needed and the problems stored (see :class:`CorpusLimits`); tokens are counted
    with ``count_tokens``, else :func:`approx_token_count`. Raises only :class:`FileNotFoundError` (and
    OS errors reading it).
    """
    _, report = _scan(
        path, filename=filename, src_lang=src_lang, tgt_lang=tgt_lang, limits=limits, count_tokens=count_tokens, keep_pairs=False
    )
    return report


def load_corpus(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    limits: CorpusLimits = DEFAULT_LIMITS,
    count_tokens: TokenCounter | None = None,
) -> tuple[list[Pair], ValidationReport]:
    """Validate and read in one pass: the valid, de-duplicated pairs in file order, and the report.

    Lenient: lines with errors are left out and the caller decides what the report means.
    """
    return _scan(
        path, filename=filename, src_lang=src_lang, tgt_lang=tgt_lang, limits=limits, count_tokens=count_tokens, keep_pairs=True
    )


def read_pairs(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    limits: CorpusLimits = READ_LIMITS,
    count_tokens: TokenCounter | None = None,
) -> list[Pair]:
    """The valid, de-duplicated pairs of a corpus, in file order; strict.

    Raises :class:`CorpusError` (carrying the report) when the file has any error: a training run
    should use exactly what validation accepted, not silently less. Warnings (duplicates, a BOM,
    mixed language pairs, ...) do not raise. The default limits (:data:`READ_LIMITS`) ask for one pair
    and set no token budget.
    """
    pairs, report = load_corpus(
        path, filename=filename, src_lang=src_lang, tgt_lang=tgt_lang, limits=limits, count_tokens=count_tokens
    )
    if not report.ok:
        raise CorpusError(report)
    return pairs
