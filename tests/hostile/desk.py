"""A help desk full of hostile input: every payload of the corpus through every channel.

`build_desk(payloads)` loads the demo organisation, then sends each payload in through the
portal, email, the API, the agent panel, the satisfaction survey and custom fields (see
channels.py), delivering notifications as it goes. The HTML tests build it once per module (in a
transaction rolled back afterwards); the browser tests build it in a live server's database with
a representative subset.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core import mail
from django.test import Client, TestCase

from helpline.accounts.demo import load_demo
from helpline.accounts.models import User
from helpline.api.models import ApiKey, Scope
from helpline.mail.models import FailedMail
from helpline.reports.models import CsatSurvey, survey_link_path
from helpline.tickets import actions
from helpline.tickets.models import HelpTopic, SavedSearch, Status, Ticket
from tests.hostile import channels
from tests.hostile.channels import Landed
from tests.hostile.corpus import ADDRESS_PAYLOADS, Payload

CUSTOM_FIELD = "asset_tag"  # The demo's text field of the Hardware help topic.


@dataclass
class Desk:
    """What the corpus became: tickets by channel, pages the channels answered with, mail."""

    landed: list[Landed] = field(default_factory=list)
    # (surface, payload, response): pages shown while the input went in (form errors …).
    answers: list[tuple[str, Payload, object]] = field(default_factory=list)
    saved_searches: dict[str, SavedSearch] = field(default_factory=dict)
    surveys: dict[str, CsatSurvey] = field(default_factory=dict)
    failed_mail: dict[str, FailedMail] = field(default_factory=dict)
    outbox: list = field(default_factory=list)
    custom_fields: bool = False
    echoes: bool = True
    media_root: Path | None = None  # where the attachments were stored

    def tickets(self, *names: str) -> list[Landed]:
        """Landed items with a ticket, of the named channels (all channels if none given)."""
        return [i for i in self.landed if i.ticket and (not names or i.channel in names)]

    def people(self) -> list[tuple[Payload, User]]:
        """Each payload's hostile-named people (requesters and collaborators), once each."""
        seen, result = set(), []
        for item in self.landed:
            for person in _people_of(item):
                if person.pk not in seen:
                    seen.add(person.pk)
                    result.append((item.payload, person))
        return result


def _people_of(item: Landed) -> list[User]:
    people = [item.person] if item.person else []
    if item.ticket is not None:
        people += [c.user for c in item.ticket.collaborators.select_related("user")]
    return people


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def has_custom_fields() -> bool:
    """The demo's Hardware topic asks for asset_tag (the custom field the payloads go into)."""
    from helpline.tickets.models import HelpTopicField

    return HelpTopicField.objects.filter(help_topic__name="Hardware", name=CUSTOM_FIELD).exists()


class Clients:
    """One test client per role, reused: building a client loads the middleware (slow)."""

    def __init__(self):
        self.anonymous = Client()
        self.john = signed_in(User.objects.get(username="john"))
        self.jane = signed_in(User.objects.get(username="jane"))
        self.garnet = signed_in(User.objects.get(username="garnet"))
        self.john_user = User.objects.get(username="john")
        scopes = [Scope.TICKETS_READ, Scope.TICKETS_WRITE]
        _, self.api_key = ApiKey.issue(self.john_user, name="hostile", scopes=scopes)

    def guest(self) -> Client:
        """The anonymous client with no session: a new visitor."""
        self.anonymous.cookies.clear()
        return self.anonymous


def build_desk(payloads: Iterable[Payload], *, echoes: bool = True) -> Desk:
    """The demo help desk with `payloads` (and the script-carrying addresses) sent in through
    every channel (see the module docstring). Without `echoes`, the forms that are refused and
    shown back are left out (the browser tests do not look at those answers)."""
    payloads = list(payloads)
    mail.outbox = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        load_demo()
    desk = Desk(custom_fields=has_custom_fields(), echoes=echoes)
    clients = Clients()
    for step in (_portal, _agent, _mail, _api, _survey):
        for payload in payloads:
            # Each payload's mail goes out as its action commits, as in production.
            with TestCase.captureOnCommitCallbacks(execute=True):
                step(desk, payload, clients)
    for payload in ADDRESS_PAYLOADS:
        with TestCase.captureOnCommitCallbacks(execute=True):
            _address(desk, payload, clients)
    desk.outbox = list(mail.outbox)
    return desk


def _answer(desk: Desk, payload: Payload, pages) -> None:
    desk.answers += [(label, payload, response) for label, response in pages]


def _portal(desk: Desk, payload: Payload, clients: Clients) -> None:
    """A guest opens a ticket (name, email, subject, message, file name, custom field); the
    same visitor then sends forms the portal refuses, which come back with the values."""
    topic = HelpTopic.objects.get(name="Hardware")
    extra = {f"cf_{CUSTOM_FIELD}": payload.text[:255]} if desk.custom_fields else {}
    landed = channels.portal_open(clients.guest(), payload, topic.pk, **extra)
    desk.landed.append(landed)
    _answer(desk, payload, landed.pages)
    if not desk.echoes:
        return
    topic_id = topic.pk if desk.custom_fields else None
    echo = channels.portal_form_echo(clients.guest(), payload, topic_id)
    desk.answers.append(("portal form with errors", payload, echo))
    status = channels.status_form_echo(clients.guest(), payload)
    desk.answers.append(("check-status form with errors", payload, status))


def _agent(desk: Desk, payload: Payload, clients: Clients) -> None:
    """On the portal's ticket (its requester is named by the payload) John writes the payload
    as an internal note, a reply and a custom field value; Jane or Garnet saves a search named
    by it; the agent's new-ticket form refuses the payload as an address and shows it back."""
    item = next((i for i in desk.tickets("portal") if i.payload is payload), None)
    if item is not None:
        pages = channels.agent_compose(clients.john, item.ticket, "note", payload)
        pages += channels.agent_compose(clients.john, item.ticket, "reply", payload)
        if desk.custom_fields:
            name = f"cf_{CUSTOM_FIELD}"
            pages += channels.agent_set_field(clients.john, item.ticket, name, payload)
        # The flash messages ("Reply sent to <name>.") show on the next page.
        pages.append(("agent page with flash messages", channels.flashed(clients.john)))
        _answer(desk, payload, pages)
    # Jane and Garnet take turns, so that neither sidebar lists more than 50 searches.
    agent = clients.jane if len(desk.saved_searches) % 2 else clients.garnet
    pages = channels.agent_save_search(agent, payload)
    pages.append(("agent page with flash messages", channels.flashed(agent)))
    _answer(desk, payload, pages)
    search = SavedSearch.objects.order_by("-pk").first()
    if search is not None and search.pk not in {s.pk for s in desk.saved_searches.values()}:
        desk.saved_searches[payload.pid] = search
    if not desk.echoes:
        return
    echo = channels.agent_new_ticket_echo(clients.john, payload)
    desk.answers.append(("agent new-ticket form with errors", payload, echo))


def _mail(desk: Desk, payload: Payload, clients: Clients) -> None:
    """A message carrying the payload everywhere, then an HTML-only answer to it (threaded by
    In-Reply-To), then a message without a readable sender (kept as failed mail)."""
    landed = channels.mail_in(channels.mail_message(payload), "mail", payload)
    desk.landed.append(landed)
    first = landed.ticket.entries.order_by("pk").first() if landed.ticket else None
    answer = channels.mail_html_only(payload, in_reply_to=first.message_id if first else "")
    desk.landed.append(channels.mail_in(answer, "mail-html", payload))
    failed = channels.mail_in(channels.mail_unreadable_sender(payload), "mail-failed", payload)
    found = FailedMail.objects.order_by("-pk").first()
    if failed.ticket is None and found is not None:
        desk.failed_mail[payload.pid] = found


def _api(desk: Desk, payload: Payload, clients: Clients) -> None:
    fields = {CUSTOM_FIELD: payload.text[:255]} if desk.custom_fields else None
    landed = channels.api_open(clients.guest(), clients.api_key, payload, fields=fields)
    desk.landed.append(landed)
    _answer(desk, payload, landed.pages)


def _survey(desk: Desk, payload: Payload, clients: Clients) -> None:
    """John resolves the API ticket (its subject is the payload): the survey goes out; the
    requester answers with a low rating and the payload as the comment (the manager is told)."""
    item = next((i for i in desk.tickets("api") if i.payload is payload), None)
    if item is None:
        return
    ticket = Ticket.objects.get(pk=item.ticket.pk)
    # The survey starts after the resolution commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        actions.set_status(clients.john_user, ticket, Status.default_for("resolved"))
    survey = CsatSurvey.objects.filter(ticket=ticket).first()
    if survey is None:
        return
    answer = {"rating": 1, "comment": payload.text}
    response = clients.guest().post(survey_link_path(survey), answer)
    desk.answers.append(("survey answer", payload, response))
    if desk.echoes:
        page = clients.anonymous.get(survey_link_path(survey))
        desk.answers.append(("survey page", payload, page))
    desk.surveys[payload.pid] = survey


def _address(desk: Desk, payload: Payload, clients: Clients) -> None:
    """An address the validator accepts, carrying script: the portal's email field, a mail's
    From and Cc, an API requester."""
    topic = HelpTopic.objects.get(name="Hardware")
    landed = channels.portal_open(clients.guest(), payload, topic.pk, email=payload.text)
    desk.landed.append(landed)
    _answer(desk, payload, landed.pages)
    desk.landed.append(channels.mail_in(channels.mail_from_address(payload), "mail", payload))
    key = clients.api_key
    landed = channels.api_open(clients.guest(), key, payload, requester_email=payload.text)
    desk.landed.append(landed)
    _answer(desk, payload, landed.pages)
