"""Mail work on the django.tasks queue (schedule `fetch_mailboxes` every minute or so)."""

from django.tasks import task


@task()
def fetch_mailboxes() -> int:
    """Fetch every active mailbox once; returns how many messages were taken in."""
    from helpline.mail.fetch import fetch_all

    return sum(report.done for report in fetch_all())
