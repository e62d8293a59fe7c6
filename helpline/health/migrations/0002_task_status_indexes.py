"""Partial indexes on django-tasks-db's table for the lease sweep (RUNNING rows) and the health
panel (recent FAILED rows): without them both would read every finished task."""

from django.db import migrations

TABLE = "django_tasks_database_dbtaskresult"


class Migration(migrations.Migration):
    dependencies = [
        ("health", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS health_task_running ON {TABLE} (started_at) "
            "WHERE status = 'RUNNING'",
            "DROP INDEX IF EXISTS health_task_running",
        ),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS health_task_failed ON {TABLE} (finished_at) "
            "WHERE status = 'FAILED'",
            "DROP INDEX IF EXISTS health_task_failed",
        ),
    ]
