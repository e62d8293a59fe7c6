"""Background work on the django.tasks queue (django-tasks-db runs it: `helpline db_worker`)."""

from django.tasks import task


@task()
def deliver_notifications(ids: list[int]) -> int:
    """Send queued notifications by email; returns how many were sent."""
    from helpline.tickets.delivery import deliver

    return deliver(ids)


@task()
def sweep_overdue() -> int:
    from helpline.tickets.sweeps import mark_overdue_tickets

    return mark_overdue_tickets()


@task()
def sweep_pending() -> int:
    from helpline.tickets.sweeps import close_stale_pending

    return close_stale_pending()


@task()
def retry_notifications() -> int:
    """Send notifications whose earlier attempt failed and whose backoff has passed."""
    from helpline.tickets.delivery import retry_due

    return retry_due()
