"""Finding pairs that repeat an earlier pair, in about 12 bytes a distinct pair.

numpy is imported when a :class:`DuplicateFinder` is made (only validation makes one), never at module
level: the web process imports this package and must start small.
"""

from __future__ import annotations

from array import array
from typing import Any

from radis_core.corpus.records import Pair, canonical_json

# Not limits (see CorpusLimits): neither changes which pairs are duplicates or what a report says,
# only how much memory and time finding them takes.
#: Pairs (and problems) validation holds back at most while the duplicates among them are looked up together.
BATCH = 4096
#: Pairs a merge of two runs of :class:`DuplicateFinder` may always reach (beyond that, an eighth of all pairs).
MERGE_AT_ONCE = 1 << 17


def pair_digest(pair: Pair) -> int:
    """64 bits identifying a pair's source, target and languages (not its line), for :class:`DuplicateFinder`.

    Python's ``hash`` of the canonical JSON: SipHash keyed with the interpreter's random secret, so
    colliding pairs cannot be crafted (unless PYTHONHASHSEED is pinned) and costs a fraction of hashlib's
    per-call overhead. Two distinct pairs of an n-pair corpus collide by chance with probability about
    n^2 / 2^65 (3e-8 for a million pairs); the later one would then be reported as a duplicate.
    """
    return hash(canonical_json(pair))


class DuplicateFinder:
    """Tells which pairs repeat an earlier one, in memory that grows by about 12 bytes a distinct pair.

    A dict of every pair's hex digest took ~190 bytes a pair (+190 MB for a million lines). Here each
    distinct pair leaves its 8-byte :func:`pair_digest` and its line in sorted numpy arrays ("runs"), and
    pairs are looked up a batch at a time (:meth:`first_lines`). A new run is merged into the one before
    it while that one is at most twice as long, unless the merged run would exceed an eighth of all pairs
    seen (and :data:`MERGE_AT_ONCE`): a merge holds both copies, so this bounds the transient memory,
    while the runs a batch searches stay few (14 at a million pairs, ~60 at a hundred million).
    """

    def __init__(self) -> None:
        import numpy  # only when validating: reading records needs nothing beyond the standard library

        self._np = numpy
        self._runs: list[tuple[Any, Any]] = []  # (sorted digests, their lines); lengths decreasing
        self._total = 0

    def first_lines(self, digests: array[int], lines: list[int]) -> list[int]:
        """For each pair of a batch (its digests and its lines, in file order): the line of the first pair
        it repeats, or 0 when it is the first of its kind. Later batches see the batch's pairs."""
        np = self._np
        digest = np.array(digests, dtype=np.int64)  # a copy: the caller's array is reused
        line = np.array(lines, dtype=np.uint32 if max(lines) <= 0xFFFF_FFFF else np.uint64)
        order = np.argsort(digest, kind="stable")  # equal digests stay in file order
        digest, line = digest[order], line[order]
        first = line[np.searchsorted(digest, digest, side="left")]  # the earliest line in this batch
        for run_digest, run_line in self._runs:  # a hit in an earlier batch is earlier still
            at = np.minimum(np.searchsorted(run_digest, digest), len(run_digest) - 1)
            first = np.where(run_digest[at] == digest, run_line[at], first)
        new = first == line
        self._add_run(digest[new], line[new])
        found = np.empty_like(first)
        found[order] = np.where(new, 0, first)
        return list(found.tolist())

    def _add_run(self, digest: Any, line: Any) -> None:
        if not len(digest):
            return
        np, runs = self._np, self._runs
        runs.append((digest, line))
        self._total += len(digest)
        limit = max(MERGE_AT_ONCE, self._total // 8)
        while len(runs) > 1 and len(runs[-2][0]) <= 2 * len(runs[-1][0]) and len(runs[-2][0]) + len(runs[-1][0]) <= limit:
            (d1, l1), (d2, l2) = runs.pop(-2), runs.pop()
            merged = np.concatenate((d1, d2))
            order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
            runs.append((merged[order], np.concatenate((l1, l2))[order]))
