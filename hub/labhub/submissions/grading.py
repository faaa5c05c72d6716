"""The grading queue: gradings wait in the database, a few workers run them in the sandbox.

The queue lives in the database, so gradings that were waiting or running when the service stopped are
run again when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

from .blobs import BlobStore
from .settings import GradingSettings
from .sandbox import Job, Limits, Sandbox
from .store import Store

log = logging.getLogger(__name__)


class GradingQueue:
    def __init__(self, store: Store, blobs: BlobStore, sandbox: Sandbox, settings: GradingSettings, images):
        self.store, self.blobs, self.sandbox, self.settings = store, blobs, sandbox, settings
        self.images = images  # profile slug -> image
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        # Its own threads, one per worker: a grading blocks its thread for up to its time limit, which
        # must never hold up the loop's shared pool (fetches, notebook checks, SQLite).
        self._threads = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="grading")

    def start(self) -> None:
        removed = self.sandbox.remove_leftovers()
        if removed:
            log.warning("removed %d grading containers left from an earlier run", removed)
        for grading_id in self.store.unfinished_gradings():
            self._queue.put_nowait(grading_id)
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(self.settings.concurrency)]

    def stop(self) -> None:
        """Stops taking results: gradings still running stay "running" in the database and are run
        again at the next start."""
        for worker in self._workers:
            worker.cancel()

    def enqueue(self, submission_id: int, requested_by: str) -> int:
        grading_id = self.store.add_grading(submission_id, requested_by)
        self._queue.put_nowait(grading_id)
        return grading_id

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            grading_id = await self._queue.get()
            try:
                job = self.job_for(grading_id)
                if job is None:
                    continue
                self.store.grading_started(grading_id)
                result = await loop.run_in_executor(self._threads, self.sandbox.run, job)
                details = {"tests": result.tests, "cells": result.cells, "message": result.message,
                           "duration": round(result.duration, 3)}
                self.store.grading_finished(grading_id, result.outcome, result.score, result.max_score, details)
                log.info("grading %d: %s %.1f/%.1f in %.1f s", grading_id, result.outcome, result.score,
                         result.max_score, result.duration)
            except LookupError as e:
                self.store.grading_finished(grading_id, "error", 0.0, 0.0, {"message": str(e)})
            except Exception:
                log.exception("grading %d failed", grading_id)
                self.store.grading_finished(grading_id, "error", 0.0, 0.0, {"message": "internal error; see the service log"})
            finally:
                self._queue.task_done()

    def job_for(self, grading_id: int) -> Job | None:
        grading = self.store.grading(grading_id)
        if grading is None or grading["state"] == "done":
            return None
        submission = self.store.submission(grading["submission"])
        assignment = self.store.assignment_by_pk(submission["assignment"])
        files = self.store.files(assignment["pk"], ("starter", "visible_tests", "hidden_tests"))
        starter = [(f["name"], self.blobs.path(f["sha256"])) for f in files if f["kind"] == "starter"]
        # Visible tests first: that is the order students see them in.
        tests = [(f["kind"], self.blobs.path(f["sha256"]), f["kind"] == "hidden_tests")
                 for kind in ("visible_tests", "hidden_tests") for f in files if f["kind"] == kind]
        g = self.settings
        limits = Limits(cpus=g.cpus, memory=assignment["memory"], time_limit=assignment["time_limit"],
                        test_timeout=g.test_timeout, pids=g.pids_limit, scratch=g.scratch_size,
                        checker_memory=g.checker_memory)
        image = self.images(assignment["profile"])
        if image is None:
            raise LookupError(f"the grading profile {assignment['profile']!r} no longer exists; pick another one")
        return Job(run_id=f"{grading_id}-{secrets.token_hex(3)}", image=image,
                   notebook=self.blobs.path(submission["sha256"]), starter=starter, tests=tests, limits=limits)
