#!/usr/bin/env bash
# Mutation testing (issue 16): mutmut (pinned in pyproject's dev extra), configured in scripts/mutmut.cfg
# for radis_core/ and store/jobs.py with the quick tests. Slow, so not in CI: a full run takes hours.
#
#   scripts/mutation.sh                         all of radis_core/ and store/jobs.py
#   scripts/mutation.sh PATH...                 only the mutants of these modules or packages, e.g.
#                                               scripts/mutation.sh store/jobs.py radis_core/evaluation
#   scripts/mutation.sh --sample N [--seed S] [PATH...]
#                                               a seeded uniform random sample of N mutants of the whole
#                                               target (or of PATHs): runs only those, and prints killed/N
#                                               with its 95 % Wilson interval and the sample's survivors
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

sample=""
seed=1
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=${2:?--sample needs a number}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    *) paths+=("$1"); shift ;;
  esac
done
case "$sample$seed" in *[!0-9]*) echo "--sample and --seed take whole numbers" >&2; exit 2 ;; esac

# The mutant names of the chosen modules: radis_core/evaluation/intervals.py -> radis_core.evaluation.intervals.*
globs=()
for path in "${paths[@]}"; do
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
if [ -n "$sample" ]; then
  # Generate the mutants (what `mutmut run` does first; it keeps them, as they are up to date), list every
  # mutant name of the target, and draw the sample: sorted names, then random.Random(seed).sample, so the
  # same seed on the same code names the same mutants. mutmut run takes exact names as well as globs.
  # mutmut prints what it copies and mutates: the names go to sample.txt, everything else to stderr.
  "$python" - sample.txt "$sample" "$seed" "${globs[@]}" >&2 <<'PY'
import fnmatch, random, sys
from mutmut.__main__ import create_mutants
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.trampoline import set_mutant_under_test
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths, walk_mutatable_files

out, size, seed, globs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] or ["*"]
set_mutant_under_test("mutant_generation")
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(2)
names = []
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    names += [name for name in data.exit_code_by_key if any(fnmatch.fnmatch(name, g) for g in globs)]
names.sort()
print(f"sampling {min(size, len(names))} of {len(names)} mutants, seed {seed}", file=sys.stderr)
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in random.Random(seed).sample(names, min(size, len(names)))))
PY
  mapfile -t chosen <sample.txt
  "$mutmut" run --max-children "${MUTATION_JOBS:-$(nproc)}" "${chosen[@]}" || status=$?
  globs=("${chosen[@]}")
else
  rm -f sample.txt
  "$mutmut" run --max-children "${MUTATION_JOBS:-$(nproc)}" "${globs[@]}" || status=$?
fi
# The score: killed (and timed out) mutants over all those tested; "no tests" ones (no quick test calls
# the function) count as survivors.
"$mutmut" results --all true | "$python" -c '
import fnmatch, math, sys
from collections import Counter
sampled = sys.argv[1] == "sample"
globs = sys.argv[2:] or ["*"]
rows = [line.strip().rsplit(": ", 1) for line in sys.stdin if ": " in line]
if sampled:  # exact names: a glob character in a name must not widen the sample
    names = set(globs)
    rows = [(name, status) for name, status in rows if name in names]
else:
    rows = [(name, status) for name, status in rows if any(fnmatch.fnmatch(name, g) for g in globs)]
counts = Counter(status for _, status in rows)
caught = counts["killed"] + counts["timeout"] + counts["caught by type check"]
tested = sum(n for status, n in counts.items() if status not in ("not checked", "skipped"))
print("mutants:", len(rows), dict(sorted(counts.items())))
if tested:
    print(f"score: {caught}/{tested} = {100 * caught / tested:.1f}% (killed + timeout over tested)")
    if sampled:  # the Wilson score interval of a binomial proportion, 95 %
        z, p = 1.96, caught / tested
        centre = (p + z * z / (2 * tested)) / (1 + z * z / tested)
        half = z * math.sqrt(p * (1 - p) / tested + z * z / (4 * tested * tested)) / (1 + z * z / tested)
        print(f"95% Wilson interval for the whole target: {100 * (centre - half):.1f}% .. {100 * (centre + half):.1f}%")
for name, status in rows:
    if status in ("survived", "no tests", "suspicious"):
        print(f"  {status}: {name}")
' "$([ -n "$sample" ] && echo sample || echo globs)" "${globs[@]}"
exit "${status:-0}"
