"""The GPU worker: a Celery app that runs RaDis fine-tuning jobs from the store.

Layout: :mod:`worker.app` (the Celery app), :mod:`worker.queue` (the one enqueue path; light, the API
imports it), :mod:`worker.tasks` (the ``radis.run_job`` task), :mod:`worker.runner` (claim a job and
run it, testable without Celery), :mod:`worker.spec` (job row → :class:`radis_core.config.JobSpec`),
:mod:`worker.progress` (pipeline events → store rows, heartbeats), :mod:`worker.results` (publish the
adapter and the report as files), :mod:`worker.failures` (exceptions → OpenAI error codes),
:mod:`worker.store_writes` (short, retried transactions) and :mod:`worker.reconciler` (re-sends
jobs whose queue message was lost). Nothing here imports torch at module level.
"""
