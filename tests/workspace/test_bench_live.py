"""`helpline bench live`: the idle cost of live updates stays within its target."""

import io

import pytest

from helpline.bench.live import run

pytestmark = pytest.mark.django_db


def test_idle_live_updates_cost_one_query_and_little_cpu_per_poll(demo, support_ticket):
    out = io.StringIO()
    result = run(out, agents=200, rounds=1)

    assert result["statuses"] == {304: 200}
    assert result["queries_per_poll"] == 1
    # Target: 200 agents under 10% of one core (generous here: tests run under coverage/xdist).
    # The target is 10% of one core (`helpline bench live` on an idle machine: see the README);
    # under a parallel test run the bound is looser so that a busy machine does not fail it.
    assert result["share_of_one_core"] < 0.30, out.getvalue()
