"""The pieces of `helpline bench run` that do not need a server: counting, percentiles, guards."""

import io

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse
from django.test import RequestFactory

from helpline.accounts.models import User
from helpline.bench.middleware import DB_TIME_HEADER, QUERIES_HEADER, QueryCountMiddleware
from helpline.bench.run import BenchError, Result, run


def test_query_counting_is_off_unless_bench_mode(monkeypatch):
    monkeypatch.delenv("HELPLINE_BENCH", raising=False)
    with pytest.raises(MiddlewareNotUsed):
        QueryCountMiddleware(lambda request: HttpResponse())


@pytest.mark.django_db
def test_bench_mode_reports_queries_per_request(monkeypatch):
    monkeypatch.setenv("HELPLINE_BENCH", "1")

    def view(request):
        User.objects.count()
        User.objects.exists()
        return HttpResponse("ok")

    response = QueryCountMiddleware(view)(RequestFactory().get("/"))
    assert response[QUERIES_HEADER] == "2"
    assert float(response[DB_TIME_HEADER]) >= 0


def test_percentiles():
    result = Result("case", "queue", timings=[i / 1000 for i in range(1, 101)])
    assert result.percentile(0.50) == pytest.approx(50.5, abs=1)
    assert result.percentile(0.95) == pytest.approx(95, abs=1)
    assert result.percentile(0.99) == pytest.approx(99, abs=1)
    assert result.summary()["requests"] == 100


@pytest.mark.django_db
def test_run_refuses_an_empty_database():
    with pytest.raises(BenchError, match="bench seed"):
        run(io.StringIO())
