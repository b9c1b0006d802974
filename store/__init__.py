"""Persistence shared by the API process and the worker.

Settings (:mod:`store.settings`), engines and sessions (:mod:`store.db`), tables (:mod:`store.models`),
one repository module per aggregate (:mod:`store.projects`, :mod:`store.keys`, :mod:`store.files`,
:mod:`store.jobs` — the job state machine —, :mod:`store.events`), blob storage
(:mod:`store.artifacts`) and migrations (:mod:`store.migrate`). Import the submodule you need; this
package imports nothing heavy (no torch, no web framework, no task queue).
"""
