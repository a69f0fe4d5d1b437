"""Background jobs: what a dashboard button starts (load a scenario, train, make a plan, load an
upload) runs in a thread, one at a time per server, so the page can show that it is running and
how far it got instead of hanging on a request. A second write while one runs is refused with a
one-line message (the store has one writer anyway). The last few jobs are kept in memory for
their result pages; a restart forgets them (their results are in the store)."""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from loyalist.errors import LoyalistError

log = logging.getLogger(__name__)

KEEP = 20


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def validation_message(e: ValidationError) -> str:
    """``field: problem; ...`` as the API's 422 bodies say it."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
                     for err in e.errors()[:5])


class Busy(LoyalistError):
    """Another job is running."""


@dataclass
class Job:
    """One piece of background work and what the page shows about it."""

    kind: str
    label: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "running"
    step: str = "starting"
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    next: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def say(self, step: str) -> None:
        """Progress callback: the step the page shows while running."""
        self.step = one_line(step)

    @property
    def seconds(self) -> float:
        return round((self.finished or time.monotonic()) - self.started, 1)

    def public(self) -> dict[str, Any]:
        """What ``GET /app/jobs/{id}`` returns."""
        return {"id": self.id, "kind": self.kind, "label": self.label, "status": self.status,
                "step": self.step, "error": self.error, "seconds": self.seconds,
                "next": self.next}


Work = Callable[[Job], dict[str, Any]]


class JobRunner:
    """At most one running job; the last :data:`KEEP` kept for their result pages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._running: Job | None = None

    def start(self, kind: str, label: str, work: Work, *,
              next_url: Callable[[Job], str] | None = None) -> Job:
        """Run ``work(job)`` in a thread; raise :class:`Busy` while another job runs."""
        with self._lock:
            if self._running is not None:
                raise Busy(f"busy: {self._running.label} is running "
                           f"({self._running.seconds:.0f} s so far); wait for it to finish")
            job = Job(kind, label)
            self._running = job
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        threading.Thread(target=self._run, args=(job, work, next_url),
                         name=f"loyalist-job-{job.id}", daemon=True).start()
        return job

    def _run(self, job: Job, work: Work, next_url: Callable[[Job], str] | None) -> None:
        status, error = "failed", None
        try:
            job.result = work(job)
            job.next = next_url(job) if next_url else None
            status = "done"
        except LoyalistError as e:
            error = one_line(e)
        except ValidationError as e:
            error = validation_message(e)
        except Exception:
            log.exception("dashboard job failed", extra={"fields": {"job": job.id,
                                                                     "kind": job.kind}})
            error = f"internal error; the server log has the details (job {job.id})"
        finally:
            with self._lock:
                job.finished = time.monotonic()
                job.error, job.status = error, status
                self._running = None

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def running(self) -> Job | None:
        job = self._running
        return job if job is not None and job.status == "running" else None
