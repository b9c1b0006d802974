"""A worker process whose address space is capped, for the out-of-memory fault test.

``python -m tests.faults.memory_capped_worker HEADROOM_MB JOB_ID [JOB_ID ...]`` (settings from the
``RADIS_*`` environment): loads everything a job needs first (torch, transformers, the pipeline), then
caps the process's address space (``RLIMIT_AS``) at what it uses now plus ``HEADROOM_MB``, so that only
the job's own allocations can hit the limit. The first job runs under the cap; the cap is lifted (as a
fresh worker child would start without it) and the other jobs run after it in the same process. Prints
one ``job_id outcome`` line per job.
"""

from __future__ import annotations

import resource
import sys


def address_space_bytes() -> int:
    """This process's virtual memory size (``VmSize``), which ``RLIMIT_AS`` limits."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def warm_up(factory, job_id: str) -> None:
    """Load the job's model once and run one tiny training step: transformers and torch import many
    modules lazily on first use, and that import memory is the library's, not the job's."""
    from radis_core.models import load_model, resolve_model
    from store.db import session_scope
    from store.jobs import get_job_any

    with session_scope(factory) as session:
        model_name = get_job_any(session, job_id).model
    model, tokenizer = load_model(resolve_model(model_name), device="cpu", dtype="float32")
    ids = tokenizer("Hallo Welt", return_tensors="pt")["input_ids"]
    model(input_ids=ids, labels=ids).loss.backward()
    del model


def main(argv: list[str]) -> None:
    headroom_mb, first, others = int(argv[0]), argv[1], argv[2:]
    import torch  # noqa: F401
    import transformers  # noqa: F401

    import radis_core.pipeline  # noqa: F401 - loaded before the cap: imports are not the job's memory
    from store.artifacts import ArtifactStore
    from store.settings import get_settings
    from worker.runner import process_job, worker_sessionmaker

    settings = get_settings()
    factory = worker_sessionmaker(settings.database_url)
    artifacts = ArtifactStore(settings.artifacts_root)
    factory().close()  # the connection pool is open before the cap, like a worker's
    warm_up(factory, first)

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes() + headroom_mb * 1024 * 1024, hard))
    print(first, process_job(factory, artifacts, settings, first, "capped-worker"), flush=True)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    for job_id in others:
        print(job_id, process_job(factory, artifacts, settings, job_id, "capped-worker"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
