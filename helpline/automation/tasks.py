"""Tasks of the automation app, run by `helpline db_worker`."""

from django.tasks import task
from django.utils import timezone

from helpline.automation.models import JobRun


@task()
def run_job(name: str, run_id: int | None = None) -> int:
    """Run the periodic job `name` and note the outcome on its JobRun row."""
    from helpline.automation.jobs import all_jobs

    job = all_jobs().get(name)
    if job is None:
        JobRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), error="Unknown job")
        return 0
    try:
        count = job.run()
    except Exception as exc:
        JobRun.objects.filter(pk=run_id).update(
            finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:5000]
        )
        raise
    JobRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), result=count)
    return count
