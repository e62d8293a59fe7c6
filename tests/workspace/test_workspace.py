"""The shared workspace through the real stack: pulse, live fragment, presence, drafts, claim,
unread, watchers, mentions and notifications — and what none of them tells an outsider."""

import pytest
from django.test import Client

from helpline.tickets import actions
from helpline.workspace import pulse
from helpline.workspace.models import Draft, Notification, Presence, Watcher

pytestmark = pytest.mark.django_db


def panel(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def poll(token: str, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return Client().get("/staff/pulse/", {"t": token}, headers=headers)


def test_pulse_is_one_query_without_the_session_and_304_until_a_change(
    john, karen, support_ticket, django_assert_num_queries
):
    token = pulse.issue(john, pulse.agent_scopes(john), [support_ticket.pk])
    first = poll(token)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    with django_assert_num_queries(1):
        assert poll(token, first["ETag"]).status_code == 304
    actions.add_message(karen, support_ticket, "Still down.")
    changed = poll(token, first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    # Someone else opening the ticket changes it too; the token's own agent does not.
    Presence.objects.create(ticket=support_ticket, user=john, state="viewing")
    assert poll(token, changed["ETag"]).status_code == 304


def test_a_forged_or_old_pulse_token_is_gone(john, support_ticket):
    token = pulse.issue(john, ["all"], [support_ticket.pk])
    assert poll(token[:-2] + "xx").status_code == 410
    assert poll("").status_code == 410


def test_a_transfer_out_changes_the_old_departments_pulse(john, org, support_ticket):
    token = pulse.issue(john, pulse.agent_scopes(john))
    before = poll(token)["ETag"]
    actions.transfer(john, support_ticket, org.dept("Online Banking"))
    assert poll(token, before).status_code == 200


def test_the_live_fragment_brings_new_entries_marked_new(john, karen, support_ticket):
    client = panel(john)
    page = client.get(f"/staff/tickets/{support_ticket.number}/")
    live = page.context["live"]
    actions.add_message(karen, support_ticket, "Now the app crashes too.")
    url = f"/staff/tickets/{support_ticket.number}/live/"
    fragment = client.get(url, {"entry": live["after_entry"], "event": live["after_event"]})
    text = fragment.content.decode()
    assert "Now the app crashes too." in text and "new-badge" in text
    assert "Nothing loads since this morning" not in text  # only what the page lacks


def test_presence_shows_viewing_and_replying_and_clears(john, admin_user, support_ticket):
    url = f"/staff/tickets/{support_ticket.number}/"
    admin = panel(admin_user)
    admin.post(url + "presence/", {"state": "viewing"})
    assert "Admin is viewing" in panel(john).get(url).content.decode() or "is viewing" in (
        panel(john).get(url).content.decode()
    )
    admin.post(url + "draft/", {"kind": "reply", "body": "We are on it"})
    assert "is replying" in panel(john).get(url).content.decode()
    admin.post(url + "presence/", {"state": "left"})
    assert "is replying" not in panel(john).get(url).content.decode()


def test_a_draft_is_restored_and_removed_when_sent(john, support_ticket):
    client = panel(john)
    url = f"/staff/tickets/{support_ticket.number}/"
    assert client.post(url + "draft/", {"kind": "reply", "body": "Half a reply"}).status_code == 200
    page = client.get(url)
    assert "Half a reply" in page.content.decode()
    client.post(
        url + "reply/",
        {"body": "Half a reply, finished", "version": page.context["ticket"].version},
    )
    assert not Draft.objects.filter(user=john, ticket=support_ticket).exists()


def test_claim_assigns_through_the_assign_action_and_checks_the_version(
    john, garnet, support_ticket
):
    url = f"/staff/tickets/{support_ticket.number}/claim/"
    response = panel(john).post(
        url, {"version": support_ticket.version, "next": "/staff/queues/open/"}
    )
    assert response.status_code == 302 and response["Location"] == "/staff/queues/open/"
    support_ticket.refresh_from_db()
    assert support_ticket.assignee == john
    assert support_ticket.events.filter(kind="assigned", actor=john).exists()
    assert Watcher.objects.filter(user=john, ticket=support_ticket).exists()  # assignees watch
    stale = panel(john).post(url, {"version": support_ticket.version - 1})
    assert stale.status_code == 302


def test_claim_without_the_assign_permission_is_refused(garnet, support_ticket):
    # Garnet's limited role in Support may not assign.
    response = panel(garnet).post(f"/staff/tickets/{support_ticket.number}/claim/")
    assert response.status_code == 403
    support_ticket.refresh_from_db()
    assert support_ticket.assignee_id is None


def test_unread_bold_filter_and_count(john, karen, support_ticket):
    client = panel(john)
    queue = client.get("/staff/queues/open/")
    assert 'class="unread"' in queue.content.decode()
    client.get(f"/staff/tickets/{support_ticket.number}/")  # read it
    assert client.get("/staff/queues/open/?unread=1").context["page"].tickets == []
    actions.add_message(karen, support_ticket, "Any news?")
    unread = client.get("/staff/queues/open/?unread=1").context["page"].tickets
    assert [t.pk for t in unread] == [support_ticket.pk]


def test_a_mention_of_an_agent_who_cannot_see_the_ticket_refuses_the_note(
    john, jane, support_ticket
):
    client = panel(john)
    url = f"/staff/tickets/{support_ticket.number}/"
    response = client.post(
        url + "note/", {"body": "@jane can you look?", "version": support_ticket.version}
    )
    assert response.status_code == 400
    assert f"{jane.display_name} cannot see this ticket." in response.content.decode()
    assert "@jane can you look?" in response.content.decode()  # the text is kept
    assert not support_ticket.entries.filter(kind="note").exists()
    assert not Notification.objects.filter(user=jane).exists()


def test_a_mention_notifies_an_agent_who_sees_the_ticket_and_the_bell_lists_it(
    john, admin_user, support_ticket
):
    client = panel(john)
    url = f"/staff/tickets/{support_ticket.number}/"
    client.post(url + "note/", {"body": "@admin please check", "version": support_ticket.version})
    [note] = Notification.objects.filter(user=admin_user)
    assert note.event == "mention"
    admin = panel(admin_user)
    assert '<span class="bell-count">1</span>' in admin.get("/staff/queues/open/").content.decode()
    listing = admin.get("/staff/notifications/").content.decode()
    assert "mentioned you" in listing
    note.refresh_from_db()
    assert note.read_at is not None


def test_watchers_hear_of_answers_only_while_they_may_see_the_ticket(
    john, karen, org, support_ticket
):
    panel(john).post(f"/staff/tickets/{support_ticket.number}/watch/")
    actions.add_message(karen, support_ticket, "Hello again")
    assert Notification.objects.filter(user=john, event="answer").count() == 1
    actions.transfer(None, support_ticket, org.dept("SysAdmins"))
    actions.add_message(karen, support_ticket, "Anyone?")
    assert Notification.objects.filter(user=john, event="answer").count() == 1
    # And the list no longer shows the old one: John cannot see the ticket any more.
    assert "Hello again" not in panel(john).get("/staff/notifications/").content.decode()


def test_handing_over_keeps_the_agent_watching_while_they_can_see_it(
    john, jane, org, support_ticket
):
    actions.assign(john, support_ticket, agent=john)
    actions.transfer(john, support_ticket, org.dept("Online Banking"), agent=jane)
    # John still sees it? Only if assigned across departments; after the handover he does not.
    assert Watcher.objects.filter(user=jane, ticket=support_ticket).exists()


@pytest.mark.parametrize("path", ["live/", "presence/", "draft/", "watch/", "claim/"])
def test_nothing_of_an_invisible_ticket_through_the_workspace(john, sysadmins_ticket, path):
    client = panel(john)
    url = f"/staff/tickets/{sysadmins_ticket.number}/{path}"
    response = (
        client.get(url)
        if path == "live/"
        else client.post(url, {"state": "viewing", "kind": "reply", "body": "x"})
    )
    assert response.status_code == 404
    assert sysadmins_ticket.subject not in response.content.decode()
    assert not Presence.objects.filter(ticket=sysadmins_ticket).exists()
    assert not Draft.objects.filter(ticket=sysadmins_ticket).exists()
    assert not Watcher.objects.filter(ticket=sysadmins_ticket).exists()
