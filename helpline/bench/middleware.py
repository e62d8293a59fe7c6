"""Bench mode only: count each request's SQL queries and time, in response headers.

Active only when the environment has HELPLINE_BENCH=1 (otherwise Django drops it at start-up,
at no cost); `helpline bench run` starts gunicorn with helpline.bench.settings, which adds it.
"""

import os
import time

from django.core.exceptions import MiddlewareNotUsed
from django.db import connections

QUERIES_HEADER = "X-Helpline-Queries"
DB_TIME_HEADER = "X-Helpline-DB-ms"


class QueryCountMiddleware:
    """Adds X-Helpline-Queries (count) and X-Helpline-DB-ms to every response."""

    def __init__(self, get_response):
        if os.environ.get("HELPLINE_BENCH") != "1":
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        counter = {"queries": 0, "seconds": 0.0}

        def count(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                counter["queries"] += 1
                counter["seconds"] += time.perf_counter() - started

        wrappers = [connections[alias].execute_wrapper(count) for alias in connections]
        for wrapper in wrappers:
            wrapper.__enter__()
        try:
            response = self.get_response(request)
        finally:
            for wrapper in reversed(wrappers):
                wrapper.__exit__(None, None, None)
        response[QUERIES_HEADER] = str(counter["queries"])
        response[DB_TIME_HEADER] = f"{counter['seconds'] * 1000:.2f}"
        return response
