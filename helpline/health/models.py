"""The worker registry (one row per `helpline worker` process) and the record of recovered tasks."""

from django.db import models
from django.utils import timezone


class WorkerState(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    LOST = "lost", "Lost (stopped beating)"


class Worker(models.Model):
    """A task worker process: written at start, beaten every few seconds, closed at exit.

    A worker that stops beating (killed, host gone) is marked lost by another worker's sweep,
    which puts its running task back in the queue."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=255)
    state = models.CharField(
        max_length=10, choices=WorkerState.choices, default=WorkerState.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    last_beat_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    current_task_id = models.CharField(max_length=64, blank=True)
    tasks_done = models.PositiveIntegerField(default=0)
    tasks_failed = models.PositiveIntegerField(default=0)
    reconnects = models.PositiveIntegerField(default=0)
    last_reconnect_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["last_beat_at"],
                name="worker_running",
                condition=models.Q(state="running"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid} ({self.get_state_display()})"


class RecoveryReason(models.TextChoices):
    WORKER_LOST = "worker_lost", "Its worker stopped beating"
    CONNECTION_LOST = "connection_lost", "The database connection was lost during the task"


class TaskRecovery(models.Model):
    """A task put back in the queue: which, why, from which worker, and when."""

    task_id = models.CharField(max_length=64, db_index=True)
    task_path = models.TextField()
    reason = models.CharField(max_length=20, choices=RecoveryReason.choices)
    worker_id = models.CharField(max_length=64, blank=True)
    last_beat_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(default=timezone.now)
    recovered_by = models.CharField(max_length=64)
    failed = models.BooleanField(default=False, help_text="Recovered too often: failed instead.")
    note = models.TextField()

    class Meta:
        verbose_name_plural = "task recoveries"
        indexes = [models.Index(fields=["recovered_at"], name="task_recovery_time")]

    def __str__(self) -> str:
        return self.note
