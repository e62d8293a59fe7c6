"""`helpline db_worker` is `helpline worker`: the plain django-tasks-db loop ends on the first
lost database connection, so no Helpline process should run it."""

from helpline.health.management.commands.worker import Command

__all__ = ["Command"]
