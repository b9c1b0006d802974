"""Checkpoints that outlive their host: published to the artifact store as each completes, restored before a run.

With a shared filesystem (the local artifact store) both are no-ops: the checkpoints are already where
any worker reads them. With a bucket (:mod:`store.s3_artifacts`) the worker trains in its local copy of
the job's folder; each complete checkpoint goes to the bucket before its row is recorded, and a worker
that takes the job over (after a crash, a drain, on another host) first brings the bucket's complete
checkpoints into its own folder, so ``radis_core.training`` resumes from the newest one.
"""

from __future__ import annotations

import logging

from store.artifacts import ArtifactStore

log = logging.getLogger(__name__)

#: The pipeline's checkpoints, relative to the job's folder (worker.spec's ``work_dir`` / ``checkpoints``).
CHECKPOINTS_FOLDER = "work/checkpoints"
#: The file radis_core.checkpoints writes last into a checkpoint: its presence makes the checkpoint complete.
CHECKPOINT_MARKER = "state.pt"


def publish_checkpoints(artifacts: ArtifactStore, job_id: str) -> int:
    """Copy the job's complete checkpoints (and the removal of pruned ones) to the store; returns bytes sent."""
    return artifacts.publish_job_folder(job_id, CHECKPOINTS_FOLDER, marker=CHECKPOINT_MARKER)


def restore_checkpoints(artifacts: ArtifactStore, job_id: str) -> int:
    """Bring the job's complete checkpoints from the store into the local folder; returns how many came."""
    restored = artifacts.restore_job_folder(job_id, CHECKPOINTS_FOLDER, marker=CHECKPOINT_MARKER)
    if restored:
        log.info("job %s: %d checkpoint(s) restored from %s", job_id, restored, artifacts.describe())
    return restored
