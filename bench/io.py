"""Target 5: upload, download and corpus validation I/O, against the disk's own sequential write speed.

In one run, on the same disk (the API's data folder):

1. ``dd if=/dev/zero bs=1M conv=fsync`` writes as many bytes as the corpus has: the disk's speed.
2. A JSON-lines corpus of ``--lines`` distinct pairs (1 M by default, ~100 MB; ``--mb 500`` pads each
   line's text to reach that size) is uploaded to a real API process (``bench/load.py``'s service:
   uvicorn on a fresh Postgres database). A sampler thread reads the API's RSS (psutil, the process
   and its children) and the size of the blob being written every 20 ms, which splits the request
   into its streaming phase (body → disk) and its validation phase (``validate_corpus`` in the API).
3. The stored file is read back with a ``Range`` request (206, bytes compared) and whole (streamed;
   sha256 compared), with the API's RSS sampled during the download.
4. ``validate_corpus`` runs in a fresh process on the first 100 k lines and on all lines: lines/s and
   peak RSS over the process's baseline (VmHWM − VmRSS after imports) for both, to show whether
   memory stays bounded as the file grows.

    .venv/bin/python bench/io.py                     # 1 M lines, ~100 MB
    .venv/bin/python bench/io.py --mb 500            # the issue's 500 MB upload
    .venv/bin/python bench/io.py --s3 --mb 500       # the same through an S3 bucket (moto's server)

``--s3`` keeps the artifacts in a bucket on moto's S3 server (started here on a loopback port, as the
tests do): the upload streams into the bucket as a multipart upload, validation reads a temporary copy,
downloads are ranged GETs. The API's RSS is the figure that matters there (moto holds the bytes in its
own process, which is not counted). The only file that grows on the API's disk is the temporary copy
validation reads, so ``seconds_streaming`` there is the upload into the bucket plus that copy back; the
dd comparison still runs but says little (moto keeps the bytes in memory on the same cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import load
import psutil
from _common import REPO_ROOT, machine, report

from radis_core.hashing import sha256_file

MB = 1_000_000

_VALIDATE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from radis_core.corpus import validate_corpus
import numpy  # imported by validate_corpus on first use (duplicate finding): an import, not validation memory
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
base = status("VmRSS:")
t = time.perf_counter()
rep = validate_corpus(sys.argv[1], filename="train.jsonl")
sec = time.perf_counter() - t
print(json.dumps({"lines": rep.n_lines, "pairs": rep.n_pairs, "ok": rep.ok, "seconds": sec,
                  "peak_over_baseline_bytes": status("VmHWM:") - base, "baseline_rss_bytes": base}))
"""


def write_corpus(path: Path, lines: int, pad_to_bytes: int | None) -> int:
    """Write ``lines`` distinct de→en pairs; with ``pad_to_bytes`` each line's text is lengthened to reach it."""
    pad = ""
    if pad_to_bytes:
        sample = (
            len(
                json.dumps(
                    {"source": "Das ist Satz 0000000.", "target": "This is sentence 0000000.", "src_lang": "de", "tgt_lang": "en"}
                )
            )
            + 1
        )
        # each repetition adds " und so weiter" (14 bytes) to the source and " and so on" (10) to the target
        pad = " und so weiter" * max(0, (pad_to_bytes // lines - sample) // 24)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            f.write(
                json.dumps(
                    {
                        "source": f"Das ist Satz {i:07d}{pad}.",
                        "target": f"This is sentence {i:07d}{pad.replace('und so weiter', 'and so on')}.",
                        "src_lang": "de",
                        "tgt_lang": "en",
                    }
                )
                + "\n"
            )
    return path.stat().st_size


def dd_write(target: Path, nbytes: int) -> float:
    """Seconds ``dd`` takes to write ``nbytes`` (1 MiB blocks, fsync before exit) to ``target``."""
    count = max(1, -(-nbytes // (1 << 20)))
    start = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={count}", "conv=fsync"], check=True, capture_output=True
    )
    seconds = time.perf_counter() - start
    target.unlink()
    return seconds * nbytes / (count << 20)


class Sampler(threading.Thread):
    """Samples the API tree's RSS and the largest file under ``watch`` every 20 ms until stopped."""

    def __init__(self, pid: int, watch: Path, full_size: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.watch, self.full_size = psutil.Process(pid), watch, full_size
        self.peak_rss, self.file_complete_at = 0, None
        self.started = time.perf_counter()
        self._halt = threading.Event()

    def rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def biggest_file(self) -> int:
        sizes = [f.stat().st_size for f in self.watch.rglob("*") if f.is_file()] if self.watch.exists() else []
        return max(sizes, default=0)

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_rss = max(self.peak_rss, self.rss())
            if self.file_complete_at is None and self.biggest_file() >= self.full_size:
                self.file_complete_at = time.perf_counter() - self.started
            time.sleep(0.02)

    def stop(self) -> None:
        self._halt.set()
        self.join()


@contextmanager
def s3_bucket_env(tmp: Path) -> Iterator[dict[str, str]]:
    """Start moto's S3 server, create a bucket; yields the API's environment for it (RADIS_ARTIFACT_URL, AWS_*)."""
    from tests.s3_server import running_moto_server, s3_env

    with running_moto_server(tmp / "moto.log") as endpoint:
        env = s3_env(endpoint)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            from store.s3_artifacts import s3_client

            s3_client().create_bucket(Bucket="radis-bench")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        yield {**env, "RADIS_ARTIFACT_URL": "s3://radis-bench/io"}


def validate_in_fresh_process(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _VALIDATE, str(path), "", str(REPO_ROOT)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--mb", type=int, help="pad the lines so the corpus has about this many MB (e.g. 500)")
    parser.add_argument(
        "--pg", default=os.environ.get("RADIS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="an empty Redis database (flushed afterwards)")
    parser.add_argument("--s3", action="store_true", help="keep the artifacts in a bucket on moto's S3 server")
    args = parser.parse_args(argv)

    details: dict = {
        "target": "upload RSS growth < 100 MB and >= 50% of dd speed; Range download streams; "
        "1M-line validation lines/s in bounded memory"
    }
    with tempfile.TemporaryDirectory(prefix="radis-bench-io-") as tmp:
        corpus = Path(tmp) / "train.jsonl"
        size = write_corpus(corpus, args.lines, args.mb * MB if args.mb else None)
        head = Path(tmp) / "head.jsonl"
        with open(corpus, "rb") as src, open(head, "wb") as dst:
            for line in islice(src, max(1, args.lines // 10)):
                dst.write(line)
        details["corpus"] = {"lines": args.lines, "bytes": size}

        max_upload = str(max(512 << 20, size + (1 << 20)))
        extra_env = {"RADIS_MAX_UPLOAD_BYTES": max_upload}
        with ExitStack() as stack:
            if args.s3:
                extra_env.update(stack.enter_context(s3_bucket_env(Path(tmp))))
                details["artifacts"] = "s3 (moto server, multipart parts of 8 MiB)"
            svc = stack.enter_context(load.started_service(args.pg, args.redis_url, projects=1, extra_env=extra_env))
            auth = {"Authorization": f"Bearer {svc.keys[0]}"}
            client = httpx.Client(base_url=svc.base, headers=auth, timeout=1800)
            # Warm-up upload: the API imports the corpus validator on its first upload.
            warm = b"".join(head.read_bytes().splitlines(keepends=True)[:100])
            client.post("/v1/files", files={"file": ("warm.jsonl", warm)}, data={"purpose": "fine-tune"}).raise_for_status()

            dd_seconds = dd_write(svc.data_dir / "dd.bin", size)

            sampler = Sampler(svc.api.pid, svc.data_dir, size)
            base_rss = sampler.rss()
            sampler.start()
            with open(corpus, "rb") as fh:
                response = client.post("/v1/files", files={"file": ("train.jsonl", fh)}, data={"purpose": "fine-tune"})
            upload_seconds = time.perf_counter() - sampler.started
            sampler.stop()
            response.raise_for_status()
            file_id = response.json()["id"]
            stream_seconds = sampler.file_complete_at or upload_seconds
            upload_growth = sampler.peak_rss - base_rss

            # Range: a 1 MiB slice from the middle must come back as exactly those bytes.
            start = size // 2
            end = min(size - 1, start + (1 << 20) - 1)
            ranged = client.get(f"/v1/files/{file_id}/content", headers={"Range": f"bytes={start}-{end}"})
            with open(corpus, "rb") as fh:
                fh.seek(start)
                range_ok = ranged.status_code == 206 and ranged.content == fh.read(end - start + 1)

            dl = Sampler(svc.api.pid, Path(tmp) / "none", 1 << 62)
            dl_base = dl.rss()
            dl.start()
            digest, got = hashlib.sha256(), 0
            with client.stream("GET", f"/v1/files/{file_id}/content") as r:
                for chunk in r.iter_bytes(1 << 20):
                    digest.update(chunk)
                    got += len(chunk)
            dl_seconds = time.perf_counter() - dl.started
            dl.stop()
            want = sha256_file(corpus)

        val_head = validate_in_fresh_process(head)
        val_all = validate_in_fresh_process(corpus)

    dd_rate, stream_rate, upload_rate = size / dd_seconds / MB, size / stream_seconds / MB, size / upload_seconds / MB
    details.update(
        {
            "dd_sequential_write": {"seconds": round(dd_seconds, 2), "MB_per_s": round(dd_rate, 1)},
            "upload": {
                "seconds_total": round(upload_seconds, 2),
                "seconds_streaming": round(stream_seconds, 2),
                "seconds_validating_and_recording": round(upload_seconds - stream_seconds, 2),
                "MB_per_s_streaming": round(stream_rate, 1),
                "MB_per_s_end_to_end": round(upload_rate, 1),
                "api_rss_before_MB": round(base_rss / MB, 1),
                "api_rss_growth_MB": round(upload_growth / MB, 1),
                "status": response.status_code,
            },
            "range_download": {"status": ranged.status_code, "bytes_match": range_ok},
            "full_download": {
                "seconds": round(dl_seconds, 2),
                "MB_per_s": round(got / dl_seconds / MB, 1),
                "sha256_match": digest.hexdigest() == want,
                "api_rss_growth_MB": round((dl.peak_rss - dl_base) / MB, 1),
            },
            "validate_first_tenth": {
                **val_head,
                "lines_per_s": round(val_head["lines"] / val_head["seconds"]),
                "peak_over_baseline_MB": round(val_head["peak_over_baseline_bytes"] / MB, 1),
            },
            "validate_all": {
                **val_all,
                "lines_per_s": round(val_all["lines"] / val_all["seconds"]),
                "peak_over_baseline_MB": round(val_all["peak_over_baseline_bytes"] / MB, 1),
            },
            "machine": machine(),
        }
    )
    rss_ok, speed_ok = upload_growth < 100 * MB, stream_rate >= 0.5 * dd_rate
    report(
        details,
        (
            f"io{' (s3)' if args.s3 else ''}: upload {size / MB:.0f} MB: API RSS +{upload_growth / MB:.0f} MB (target < 100 MB: {'met' if rss_ok else 'MISSED'}); "
            f"streaming {stream_rate:.0f} MB/s = {100 * stream_rate / dd_rate:.0f}% of dd {dd_rate:.0f} MB/s "
            f"(target >= 50%: {'met' if speed_ok else 'MISSED'}; end to end incl. validation {upload_rate:.0f} MB/s "
            f"= {100 * upload_rate / dd_rate:.0f}%); Range 206 {'ok' if range_ok else 'WRONG'}, download RSS +{(dl.peak_rss - dl_base) / MB:.0f} MB; "
            f"validate {val_all['lines']} lines at {val_all['lines'] / val_all['seconds']:.0f} lines/s, peak +{val_all['peak_over_baseline_bytes'] / MB:.0f} MB "
            f"(+{val_head['peak_over_baseline_bytes'] / MB:.0f} MB at {val_head['lines']} lines)"
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
