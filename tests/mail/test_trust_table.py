"""The trust table's invariants, over every cell (the README's table is this table)."""

import itertools

from helpline.mail.models import SenderKind
from helpline.mail.trust import Act, decide, table
from helpline.tickets.models import State

CELLS = list(itertools.product(SenderKind.values, (True, False), State.values))


def test_unverified_mail_never_adds_people_acts_as_an_agent_or_reopens():
    for kind, verified, state in CELLS:
        decision = decide(kind, verified, state)
        if not verified:
            assert not decision.add_cc
            assert decision.act != Act.REPLY
            if state in (State.RESOLVED, State.CLOSED):
                assert decision.act == Act.HOLD, (kind, state)


def test_only_participants_and_agents_with_a_role_ever_reach_the_ticket():
    for kind, verified, state in CELLS:
        if kind in (SenderKind.STRANGER, SenderKind.OUTSIDE_AGENT):
            assert decide(kind, verified, state).act == Act.HOLD


def test_held_decisions_say_why():
    for kind, verified, state in CELLS:
        decision = decide(kind, verified, state)
        assert (decision.act == Act.HOLD) == bool(decision.reason)


def test_the_table_in_words_covers_every_sender():
    rows = table()
    assert {r[0] for r in rows} == {k.label for k in SenderKind}
    assert len(rows) == len(SenderKind) * 2 * 2
