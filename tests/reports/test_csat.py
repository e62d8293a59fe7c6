"""Satisfaction surveys: sent on resolution, answered through a signed link, counted in reports."""

import re
from datetime import timedelta

import pytest
from django.core import mail

from helpline.reports import queries
from helpline.reports.models import CsatSurvey, SatisfactionSettings, survey_link_path
from helpline.tickets import actions

pytestmark = pytest.mark.django_db


def survey_mails():
    return [m for m in mail.outbox if "How did we do?" in m.subject]


def test_one_survey_per_resolved_ticket_with_rating_links(february, karen):
    t = february.tickets
    # T1 was resolved twice, T2, T3 and T6 once: one survey each, none for open tickets.
    surveys = CsatSurvey.objects.order_by("created_at")
    assert [s.ticket_id for s in surveys] == [t.t2.pk, t.t1.pk, t.t3.pk, t.t6.pk]
    sent = survey_mails()
    assert len(sent) == 4 and all(m.to == [karen.email] for m in sent)
    body = sent[0].body
    links = re.findall(r"(https?://\S+/survey/\S+)", body)
    assert len(links) == 5 and links[0].endswith("?rating=1")
    assert sent[0].extra_headers["Auto-Submitted"] == "auto-generated"
    html = sent[0].alternatives[0][0]
    assert html.count("?rating=") == 5


def test_no_survey_when_the_department_says_no(timeline, org, admin_user, karen):
    from tests.reports.conftest import ny

    support = org.dept("Support")
    SatisfactionSettings.objects.create(department=support, send_survey=False)
    with timeline.at(ny(2, 9)):
        ticket = actions.open_ticket(
            admin_user, requester=karen, subject="Quiet", body="x", department=support
        )
    with timeline.at(ny(2, 10)):
        actions.set_status(admin_user, ticket, org.status("Resolved"))
    assert not CsatSurvey.objects.exists()
    assert survey_mails() == []


def test_a_merge_sends_no_survey(timeline, org, admin_user, karen):
    from tests.reports.conftest import ny

    support = org.dept("Support")
    with timeline.at(ny(2, 9)):
        a = actions.open_ticket(admin_user, requester=karen, subject="A", body="x",
                                department=support)  # fmt: skip
        b = actions.open_ticket(admin_user, requester=karen, subject="B", body="x",
                                department=support)  # fmt: skip
    with timeline.at(ny(2, 10)):
        actions.merge(admin_user, a, b)
    assert not CsatSurvey.objects.exists()


def test_opening_a_rating_link_saves_nothing_and_preselects(client, february):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t3)
    response = client.get(survey_link_path(survey, 4))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<input[^>]*value="4"[^>]*checked', html)
    assert "Save my rating" in html
    survey.refresh_from_db()
    assert survey.rating is None


def test_answer_edit_and_close(client, february, timeline):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t3)
    path = survey_link_path(survey)
    timeline.now = survey.created_at + timedelta(days=1)
    response = client.post(path, {"rating": "4", "comment": "Quick & kind <b>thanks</b>"})
    assert response.status_code == 200
    assert b"Your rating of 4 out of 5 is saved" in response.content
    assert b"&lt;b&gt;thanks&lt;/b&gt;" in response.content
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == (4, "Quick & kind <b>thanks</b>")
    answered_at = survey.responded_at

    timeline.now = answered_at + timedelta(days=6)
    assert client.post(path, {"rating": "5"}).status_code == 200
    survey.refresh_from_db()
    assert (survey.rating, survey.comment, survey.responded_at) == (5, "", answered_at)
    assert CsatSurvey.objects.filter(ticket=february.tickets.t3).count() == 1

    timeline.now = answered_at + timedelta(days=7, seconds=1)
    response = client.post(path, {"rating": "1"})
    assert response.status_code == 410
    survey.refresh_from_db()
    assert survey.rating == 5


def test_bad_answers_and_links(client, february):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t3)
    path = survey_link_path(survey)
    response = client.post(path, {"rating": "9"})
    assert response.status_code == 400 and b"errorlist" in response.content
    assert client.post(path, {}).status_code == 400
    assert client.post(path, {"rating": "3", "comment": "x" * 5000}).status_code == 400
    assert client.get(path.replace(survey.token, survey.token[:-2] + "xx")).status_code == 404
    assert client.get("/staff/reports/survey/garbage/").status_code == 404
    assert client.get(path + "?rating=abc").status_code == 200
    survey.refresh_from_db()
    assert survey.rating is None


def test_an_unanswered_survey_closes_after_30_days(client, february, timeline):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t3)
    timeline.now = survey.created_at + timedelta(days=31)
    assert client.get(survey_link_path(survey, 5)).status_code == 410


def test_low_rating_tells_the_manager_once(client, february, john, timeline):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t1)
    timeline.now = survey.created_at + timedelta(hours=1)
    mail.outbox.clear()
    path = survey_link_path(survey)
    with_callbacks = timeline.at(timeline.now)
    with with_callbacks:
        client.post(path, {"rating": "2", "comment": "Took days."})
    alerts = [m for m in mail.outbox if "Low satisfaction" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == [john.email]  # John manages Support
    assert "Took days." in alerts[0].body
    with timeline.at(timeline.now):
        client.post(path, {"rating": "1"})
    assert len([m for m in mail.outbox if "Low satisfaction" in m.subject]) == 1


def test_no_manager_alert_when_switched_off(client, february, org, timeline):
    SatisfactionSettings.objects.create(department=org.dept("Support"), notify_manager=False)
    survey = CsatSurvey.objects.get(ticket=february.tickets.t1)
    timeline.now = survey.created_at + timedelta(hours=1)
    mail.outbox.clear()
    with timeline.at(timeline.now):
        client.post(survey_link_path(survey), {"rating": "1"})
    assert not [m for m in mail.outbox if "Low satisfaction" in m.subject]


def test_reports_count_surveys_sent_answered_and_the_average(client, february, john, timeline):
    t = february.tickets
    for ticket, rating in ((t.t2, 5), (t.t1, 2)):
        survey = CsatSurvey.objects.get(ticket=ticket)
        timeline.now = survey.created_at + timedelta(hours=2)
        with timeline.at(timeline.now):
            client.post(survey_link_path(survey), {"rating": str(rating), "comment": "ok"})
    report = queries.group_report(john, february.period, "department", now=february.now)
    support = report.rows[0]
    # T1, T2, T3 surveyed in the period (T6's went out on 25 Feb); T1 and T2 answered.
    assert (support.csat_sent, support.csat_answered) == (3, 2)
    assert support.csat_average == 3.5
    assert support.csat_rate_pct == pytest.approx(200 / 3)
    client.force_login(john)
    page = client.get(
        "/staff/reports/?period=custom&start=2026-02-09&end=2026-02-22"
    ).content.decode()
    assert "3.50" in page and "66.7" in page
    assert page.count('class="comment"') == 2


def test_rating_shows_on_the_tickets(client, february, admin_user, karen, timeline):
    survey = CsatSurvey.objects.get(ticket=february.tickets.t2)
    timeline.now = survey.created_at + timedelta(hours=2)
    client.post(survey_link_path(survey), {"rating": "5", "comment": "Great <3"})
    client.force_login(admin_user)
    staff = client.get(f"/staff/tickets/{february.tickets.t2.number}/").content.decode()
    assert "5 out of 5" in staff and "Great &lt;3" in staff
    client.force_login(karen)
    portal = client.get(f"/tickets/{february.tickets.t3.number}/").content.decode()
    assert "How did we do?" in portal and "/survey/" in portal


def test_no_survey_when_the_help_desk_closes_a_forgotten_ticket(timeline, org, admin_user, karen):
    from tests.reports.conftest import ny

    with timeline.at(ny(2, 9)):
        ticket = actions.open_ticket(admin_user, requester=karen, subject="Gone quiet",
                                     body="x", department=org.dept("Support"))  # fmt: skip
    with timeline.at(ny(2, 10)):
        actions.set_status(admin_user, ticket, org.status("Pending"))
    with timeline.at(ny(20, 10)):
        assert actions.close_after_waiting(ticket, 14)
    assert not CsatSurvey.objects.exists()
