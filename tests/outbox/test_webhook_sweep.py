"""Webhook deliveries are claimed per attempt and swept like mail: a delivery whose task never
ran, or whose worker died mid-attempt, is sent once the sweep finds it; a second task for an
attempt already made sends nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpline.api import webhooks
from helpline.api.models import DeliveryState, WebhookDelivery
from tests.api.test_webhooks import hook, receiver  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_a_delivery_whose_task_never_ran_is_swept(hook, receiver):  # noqa: F811
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    assert webhooks.retry_due() == 0  # its task may still come
    assert webhooks.retry_due(now=timezone.now() + webhooks.LEASE) == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and len(receiver.requests) == 1


def test_a_worker_that_died_mid_attempt_leaves_a_lease_the_sweep_takes_back(hook, receiver):  # noqa: F811
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    assert webhooks._claim(delivery)  # ... and the worker is killed before it records anything
    assert webhooks.retry_due() == 0  # leased: no second attempt while the first may run
    assert webhooks.retry_due(now=timezone.now() + webhooks.LEASE + timedelta(seconds=1)) == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2


def test_a_second_task_for_the_same_attempt_sends_nothing(hook, receiver):  # noqa: F811
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    stale = WebhookDelivery.objects.get(pk=delivery.pk)  # read by a second task meanwhile
    assert webhooks._claim(delivery)
    assert not webhooks._claim(stale)
    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.DELIVERED
    assert webhooks.attempt(str(delivery.pk)) == DeliveryState.DELIVERED
    assert len(receiver.requests) == 1
