"""Prometheus metrics at /metrics (behind HELPLINE_METRICS_TOKEN).

Requests and latencies are counted in the process that answered them (with several gunicorn
workers set PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode, and they add up);
queue depths, ages, mail and fetch figures are read from the database at scrape time, so any one
web process answers for the whole help desk.
"""

from __future__ import annotations

import os
import time

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUESTS = Counter("helpline_http_requests", "HTTP requests answered", ["method", "view", "status"])
LATENCY = Histogram(
    "helpline_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestMetricsMiddleware:
    """Counts and times every request, labelled by the URL pattern's name (few, fixed labels)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unmatched"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, view, str(response.status_code)).inc()
        LATENCY.labels(method, view).observe(time.perf_counter() - started)
        return response


def _stamp(value) -> float:
    return value.timestamp() if value else 0.0


class DatabaseCollector:
    """Figures from the database, read at scrape time (helpline.health.status)."""

    def collect(self):
        from helpline.health import status

        s = status.snapshot()
        now = s.now

        def age(then) -> float:
            return max(0.0, (now - then).total_seconds()) if then else 0.0

        def gauge(name, doc, value, labels=None, **label_values):
            family = GaugeMetricFamily(name, doc, labels=list(label_values) or labels)
            if label_values:
                family.add_metric(list(label_values.values()), value)
            else:
                family.add_metric([], value)
            return family

        yield gauge(
            "helpline_workers_alive", "Task workers that beat within the lease", len(s.alive)
        )
        beats = GaugeMetricFamily(
            "helpline_worker_last_beat_timestamp_seconds",
            "Last heartbeat",
            labels=["worker", "host"],
        )
        reconnects = CounterMetricFamily(
            "helpline_worker_reconnects", "Database reconnects", labels=["worker", "host"]
        )
        for w in s.workers:
            beats.add_metric([w.worker_id, w.host], _stamp(w.last_beat_at))
            reconnects.add_metric([w.worker_id, w.host], w.reconnects)
        yield beats
        yield reconnects
        tasks = GaugeMetricFamily("helpline_tasks", "Tasks in the queue by state", labels=["state"])
        tasks.add_metric(["ready"], s.tasks_ready)
        tasks.add_metric(["running"], s.tasks_running)
        tasks.add_metric(["failed_24h"], s.tasks_failed_day)
        yield tasks
        yield gauge(
            "helpline_task_oldest_ready_seconds",
            "Age of the oldest ready task",
            age(s.oldest_ready_at),
        )
        yield gauge(
            "helpline_task_recoveries_24h", "Tasks re-queued after a worker died", s.recoveries_day
        )
        yield gauge("helpline_outbox_queued", "Mails waiting in the outbox", s.outbox_queued)
        yield gauge(
            "helpline_outbox_oldest_seconds",
            "Age of the oldest queued mail",
            age(s.oldest_queued_at),
        )
        yield gauge("helpline_outbox_retrying", "Queued mails whose last try failed", s.retrying)
        mails = GaugeMetricFamily(
            "helpline_mails_recent",
            f"Outbox rows by state among the last {status.RECENT_MAIL}",
            labels=["state"],
        )
        for state, count in sorted(s.mail_by_state.items()):
            mails.add_metric([state], count)
        yield mails
        yield gauge(
            "helpline_mail_last_sent_timestamp_seconds",
            "When a mail last went out",
            _stamp(s.last_sent_at),
        )
        yield gauge(
            "helpline_inbound_failed_24h", "Incoming mail not taken in", s.inbound_failed_day
        )
        fetched = GaugeMetricFamily(
            "helpline_mailbox_last_fetch_timestamp_seconds", "Last fetch", labels=["mailbox"]
        )
        errors = GaugeMetricFamily(
            "helpline_mailbox_fetch_error", "1 if the last fetch failed", labels=["mailbox"]
        )
        for box in s.mailboxes:
            fetched.add_metric([box.name], _stamp(box.last_fetched_at))
            errors.add_metric([box.name], 1.0 if box.last_error else 0.0)
        yield fetched
        yield errors
        yield gauge(
            "helpline_scheduler_last_run_timestamp_seconds",
            "Last periodic job started",
            _stamp(s.last_job_at),
        )


def exposition() -> bytes:
    """The text format: this process's (or all processes') request metrics, then the database's."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        requests = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)
    else:
        requests = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return generate_latest(requests) + generate_latest(database)
