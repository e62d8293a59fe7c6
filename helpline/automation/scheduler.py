"""The scheduler: enqueue each periodic job exactly once per period, however many run.

A period is `job.every` long, aligned on the Unix epoch, so every scheduler computes the same
period start. Claiming a period inserts a JobRun row whose (job, period_start) pair is unique: of
two schedulers ticking at once, one insert wins and the other gets an IntegrityError and moves on.
The claim and the enqueued task (a row of django-tasks-db in the same database) commit together,
so a crash between them leaves neither.
"""

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from helpline.automation import jobs as job_table
from helpline.automation.jobs import Job
from helpline.automation.models import JobRun

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length `every` that contains `now`."""
    periods = (now - EPOCH) // every
    return EPOCH + periods * every


def whoami() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def claim_and_enqueue(job: Job, now: datetime) -> JobRun | None:
    """Claim this period of `job` and enqueue its task; None if it was claimed already."""
    from helpline.automation.tasks import run_job

    start = period_start(now, job.every)
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                job=job.name, period_start=start, claimed_at=now, claimed_by=whoami()
            )
            result = run_job.enqueue(job.name, run.pk)
            JobRun.objects.filter(pk=run.pk).update(task_id=str(result.id)[:64])
    except IntegrityError:
        return None
    return run


def tick(now: datetime | None = None, jobs: dict[str, Job] | None = None) -> list[JobRun]:
    """One pass: claim and enqueue every job whose current period has no run yet."""
    now = now or timezone.now()
    jobs = job_table.all_jobs() if jobs is None else jobs
    claimed = JobRun.objects.filter(
        job__in=list(jobs), period_start__in=[period_start(now, j.every) for j in jobs.values()]
    ).values_list("job", "period_start")
    done = set(claimed)
    runs = []
    for job in jobs.values():
        if (job.name, period_start(now, job.every)) in done:
            continue  # Cheap pre-check; the unique constraint is what guarantees once.
        run = claim_and_enqueue(job, now)
        if run is not None:
            runs.append(run)
    return runs
