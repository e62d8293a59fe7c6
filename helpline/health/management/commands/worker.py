"""`helpline worker`: run queued tasks for ever, whatever the database does.

django-tasks-db's `db_worker` with the same options, run by helpline.health.worker: it survives
database restarts (reconnects with backoff), beats every few seconds, and re-queues the tasks of
workers that stopped beating. `helpline db_worker` is the same command (this app comes first).
"""

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from helpline.health.worker import HelplineWorker


class Command(db_worker.Command):
    help = (
        "Run queued tasks (mail, webhooks, periodic jobs); survives database restarts and "
        "re-queues the tasks of workers that died."
    )

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay,
               reload, max_tasks, worker_id, exclude_queues, **options):  # fmt: skip
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise db_worker.CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = HelplineWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
