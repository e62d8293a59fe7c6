"""Background work of the API app on the django.tasks queue."""

from django.tasks import task


@task()
def deliver_webhook(delivery_id: str) -> str:
    """One attempt at a webhook delivery (it schedules its own retry)."""
    from helpline.api.webhooks import attempt

    return attempt(delivery_id)
