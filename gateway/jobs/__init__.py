"""Durable work: bulk QR jobs, run by Huey workers, with every bit of state in the store.

* :mod:`.engine` — the Huey instance (SQLite file embedded, Redis at scale), the task names, how a
  job is (re)scheduled, and the crash sweep;
* :mod:`.qr` — one step of a QR job: start, poll and collect vendor batches, never sleeping.

Why Huey and how a job survives a killed worker: docs/jobs.md.
"""
