#!/usr/bin/env bash
# Mutation testing (issue 16): mutmut (pinned in pyproject's dev extra), configured in scripts/mutmut.cfg
# for radis_core/ and store/jobs.py with the quick tests. Slow, so not in CI: a full run takes hours.
#
#   scripts/mutation.sh                         all of radis_core/ and store/jobs.py
#   scripts/mutation.sh PATH...                 only the mutants of these modules or packages, e.g.
#                                               scripts/mutation.sh store/jobs.py radis_core/evaluation
#   scripts/mutation.sh results|show NAME|browse|tests-for-mutant NAME|print-time-estimates
#                                               mutmut's own commands, on the last run
#
# It works on a scratch copy, .mutation/ (git-ignored): mutmut writes its mutants/ there, and keeps its
# results and the test-to-function map between runs, so a second run only redoes what changed. The first
# run of a session also runs every selected quick test once (the "stats" run, ~10 min here) to learn which
# tests call which function; each mutant then runs only those tests. It ends with the score of the mutants
# named on the command line (all of them without arguments) and lists the survivors. Ctrl-C stops it and
# keeps what was tested; the next run goes on from there.
# Run it under `nice -n 19` on a shared machine. MUTATION_JOBS sets the parallel workers (default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
work=.mutation
mutmut=$PWD/.venv/bin/mutmut
python=$PWD/.venv/bin/python

case "${1:-}" in
  results | show | browse | apply | tests-for-mutant | print-time-estimates | export-cicd-stats)
    [ -d "$work/mutants" ] || { echo "no mutation run yet: run scripts/mutation.sh first" >&2; exit 2; }
    cd "$work" && exec "$mutmut" "$@"
    ;;
esac

# The mutant names of the chosen modules: radis_core/evaluation/intervals.py -> radis_core.evaluation.intervals.*
globs=()
for path in "$@"; do
  path=${path%/}
  case "$path" in
    radis_core | radis_core/* | store/jobs.py) ;;
    *) echo "not in the mutation target (radis_core/, store/jobs.py): $path" >&2; exit 2 ;;
  esac
  [ -e "$path" ] || { echo "no such file or directory: $path" >&2; exit 2; }
  module=${path%.py}
  globs+=("${module//\//.}.*")
done

scripts/services.sh >/dev/null
mkdir -p "$work"
# -a keeps the modification times: mutmut regenerates (and retests) only the files that changed.
for dir in radis_core store tests migrations; do
  rsync -a --delete --exclude __pycache__ "$dir/" "$work/$dir/"
done
rsync -a pyproject.toml alembic.ini "$work/"
cp scripts/mutmut.cfg "$work/setup.cfg"

cd "$work"
"$mutmut" run --max-children "${MUTATION_JOBS:-$(nproc)}" "${globs[@]}" || status=$?
# The score: killed (and timed out) mutants over all those tested; "no tests" ones (no quick test calls
# the function) count as survivors.
"$mutmut" results --all true | "$python" -c '
import fnmatch, sys
from collections import Counter
globs = sys.argv[1:] or ["*"]
rows = [line.strip().rsplit(": ", 1) for line in sys.stdin if ": " in line]
rows = [(name, status) for name, status in rows if any(fnmatch.fnmatch(name, g) for g in globs)]
counts = Counter(status for _, status in rows)
caught = counts["killed"] + counts["timeout"] + counts["caught by type check"]
tested = sum(n for status, n in counts.items() if status not in ("not checked", "skipped"))
print("mutants:", len(rows), dict(sorted(counts.items())))
if tested:
    print(f"score: {caught}/{tested} = {100 * caught / tested:.1f}% (killed + timeout over tested)")
for name, status in rows:
    if status in ("survived", "no tests", "suspicious"):
        print(f"  {status}: {name}")
' "${globs[@]}"
exit "${status:-0}"
