"""Satisfaction mail, sent by the task worker after the transaction that asked for it."""

from django.tasks import task


@task()
def send_survey(survey_id: int) -> bool:
    """Email the survey link to the requester (once)."""
    from helpline.reports.csat import send

    return send(survey_id)


@task()
def notify_low_rating(survey_id: int) -> bool:
    """Tell the department manager about a rating of 1 or 2."""
    from helpline.reports.csat import notify_manager

    return notify_manager(survey_id)
