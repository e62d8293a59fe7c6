from django.contrib import admin

from helpline.health.models import TaskRecovery, Worker


class ReadOnly(admin.ModelAdmin):
    """Written by the workers; the admin only reads."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Worker)
class WorkerAdmin(ReadOnly):
    list_display = ("worker_id", "host", "pid", "state", "last_beat_at", "tasks_done", "reconnects")
    list_filter = ("state", "host")


@admin.register(TaskRecovery)
class TaskRecoveryAdmin(ReadOnly):
    list_display = ("recovered_at", "task_path", "reason", "worker_id", "recovered_by", "failed")
    list_filter = ("reason", "failed")
    search_fields = ("task_id", "worker_id")
