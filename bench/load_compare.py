"""``bench/load.py`` against an older commit and this checkout, side by side, in one run.

The older commit is checked out into a ``git worktree`` (``--dir``, made once, reused while it is at
``--ref``); both services run on the same interpreter and virtual environment, each with its own fresh
database, with the same clients (this checkout's ``bench/load.py``). The runs alternate (old, new, old,
new …, ``--rounds`` each) so that a change in the machine's load falls on both. Prints each run, the
medians per side and the ratio new / old; exits 1 if any run's own checks failed.

    flock /tmp/radis-heavy.lock nice -n 5 .venv/bin/python bench/load_compare.py --ref 636bf63 -- \\
        --clients 200 --jobs-per-client 2 --polls 5

Arguments after ``--`` go to ``bench/load.py`` unchanged (both sides get the same).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Figures given per side (median over the rounds) and as ratios new / old.
NAMES = ("throughput_rps", "poll_p50_ms", "poll_p99_ms", "api_cpu_ms_per_request", "postgres_cpu_ms_per_request")


def checkout(ref: str, folder: Path) -> Path:
    """A worktree of ``ref`` at ``folder`` (created if missing, moved to ``ref`` if it is elsewhere)."""
    commit = subprocess.run(["git", "rev-parse", f"{ref}^{{commit}}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    wanted = commit.stdout.strip()
    if not (folder / ".git").exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), wanted], cwd=REPO_ROOT, check=True)
    else:
        subprocess.run(["git", "checkout", "-q", "--detach", wanted], cwd=folder, check=True)
    return folder


def one_run(code: Path | None, load_args: list[str], out: Path) -> dict:
    """Run ``bench/load.py`` (serving ``code``, or this checkout) and return its report."""
    command = [sys.executable, str(REPO_ROOT / "bench" / "load.py"), *load_args, "--json", str(out)]
    if code is not None:
        command += ["--code", str(code)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if not out.exists():
        raise SystemExit(f"bench/load.py failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return json.loads(out.read_text())


def summary(report: dict) -> dict:
    """The figures compared: throughput and latency percentiles of polls and creates."""
    latency = report["latency_ms"]
    return {
        "throughput_rps": report["throughput_rps"],
        "api_cpu_ms_per_request": report.get("cpu_ms_per_request", {}).get("api"),
        "postgres_cpu_ms_per_request": report.get("cpu_ms_per_request", {}).get("postgres"),
        "seconds": report["seconds"],
        "poll_p50_ms": latency["poll"]["p50"],
        "poll_p99_ms": latency["poll"]["p99"],
        "create_p50_ms": latency["create"]["p50"],
        "create_p99_ms": latency["create"]["p99"],
        "failures": sum(report["failures"].values()),
        "checks": all(report["checks"].values()),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, load_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="636bf63", help="the older commit to compare with")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "load-old", help="its worktree")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each side, alternating")
    parser.add_argument("--json", type=Path, help="also write the comparison here")
    args = parser.parse_args(own)
    old_code = checkout(args.ref, args.dir.resolve())
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="radis-load-compare-") as scratch:
        for round_ in range(args.rounds):
            for side, code in (("old", old_code), ("new", None)):
                report = one_run(code, load_args, Path(scratch) / f"{side}-{round_}.json")
                runs[side].append(summary(report))
                print(f"{side} (round {round_ + 1}): {json.dumps(runs[side][-1])}", flush=True)
    medians = {side: {name: statistics.median(r[name] for r in reports) for name in NAMES} for side, reports in runs.items()}
    comparison = {
        "ref": args.ref,
        "load_args": load_args,
        "load_average": os.getloadavg(),
        "runs": runs,
        "median": medians,
        "ratio_new_over_old": {
            name: round(medians["new"][name] / medians["old"][name], 3) if medians["old"][name] else None for name in NAMES
        },
    }
    text = json.dumps(comparison, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if all(r["checks"] and not r["failures"] for reports in runs.values() for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
