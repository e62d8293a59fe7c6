"""The trust model for inbound mail: what a message may do, from three facts.

A mail's From: is a claim, not an identity. Every inbound message that threads to a ticket is
judged on (1) how it threaded (a Message-ID we stored or sent, our signed token, the number in
the subject), (2) whether the sender is verified — by a reply token we signed for exactly that
recipient, or by an aligned DKIM/DMARC pass — and (3) who the sender is on that ticket. `decide`
is the table (README "Mail you can trust"); mail/ingest.py carries out what it says.
"""

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from django.db import models

from helpline.mail import authenticity
from helpline.mail.models import SenderKind
from helpline.mail.threading import ReplyToken
from helpline.tickets import access
from helpline.tickets.models import Collaborator, State, Ticket, Verification


class Act(models.TextChoices):
    MESSAGE = "message", "Append as the sender's message"
    REPLY = "reply", "Send as the agent's reply"
    HOLD = "hold", "Hold for review"


@dataclass(frozen=True)
class Proof:
    """Whether the sender is who From: says, and how we know."""

    verification: str  # a Verification value
    detail: str = ""

    @property
    def verified(self) -> bool:
        return self.verification in (Verification.REPLY_ADDRESS, Verification.DKIM)


UNVERIFIED = Proof(
    Verification.UNVERIFIED, "No reply token for this sender and no DKIM/DMARC pass."
)


@dataclass(frozen=True)
class Decision:
    act: str
    reason: str = ""
    add_cc: bool = False  # Cc addresses may join the ticket as collaborators


CLOSED_STATES = (State.RESOLVED, State.CLOSED)
# The DNS TXT lookup DKIM verification uses; None is real DNS. Tests put a stub here.
dns_txt_lookup = None


def decide(kind: str, verified: bool, state: str) -> Decision:
    """The trust table: what a message threaded to a ticket in `state` may do.

    Unverified mail never adds collaborators, never reaches a ticket the sender cannot see, never
    acts as an agent and never reopens a resolved or closed ticket: it is appended with an
    "unverified" badge (the requester's or a collaborator's own address) or held for review.
    """
    if kind in (SenderKind.REQUESTER, SenderKind.COLLABORATOR):
        if verified:
            return Decision(Act.MESSAGE, add_cc=True)
        if state in CLOSED_STATES:
            return Decision(Act.HOLD, "An unverified sender cannot reopen a resolved ticket.")
        return Decision(Act.MESSAGE)
    if kind == SenderKind.AGENT:
        if verified:
            return Decision(Act.REPLY)
        return Decision(
            Act.HOLD, "An agent's answer by email must be verified before it reaches the ticket."
        )
    if kind == SenderKind.OUTSIDE_AGENT:
        return Decision(Act.HOLD, "The sender is an agent without a role on this ticket.")
    return Decision(Act.HOLD, "The sender takes no part in this ticket.")


def table() -> list[tuple[str, str, str, str]]:
    """Every cell of `decide` in words: (sender, verified?, ticket state, outcome)."""
    rows = []
    for kind in SenderKind:
        for verified in (True, False):
            for state, label in (("open", "open or pending"), ("resolved", "resolved/closed")):
                decision = decide(kind, verified, state)
                outcome = Act(decision.act).label
                if decision.act == Act.MESSAGE and decision.add_cc:
                    outcome += " (Cc may join)"
                rows.append((kind.label, "verified" if verified else "unverified", label, outcome))
    return rows


def sender_kind(user, ticket: Ticket) -> str:
    """Who the sender is on this ticket. The requester is the requester even if an agent."""
    if user is None or not user.is_active:
        return SenderKind.STRANGER
    if ticket.requester_id == user.pk:
        return SenderKind.REQUESTER
    if access.works_on(user, ticket):
        return SenderKind.AGENT
    if Collaborator.objects.filter(ticket=ticket, user=user).exists():
        return SenderKind.COLLABORATOR
    if access.is_agent(user):
        return SenderKind.OUTSIDE_AGENT
    return SenderKind.STRANGER


def header_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Every header of a raw message, in order, values unfolded (duplicates kept)."""
    message = BytesHeaderParser(policy=compat32).parsebytes(raw or b"")
    return [(str(name), " ".join(str(value).split())) for name, value in message.items()]


RECIPIENT_HEADERS = {"to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to"}


def recipient_fields(headers: list[tuple[str, str]]) -> list[str]:
    """Header values that may carry our signed reply address."""
    return [value for name, value in headers if name.lower() in RECIPIENT_HEADERS]


def _listed(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _trusted_ids(mailbox) -> list[str]:
    return _listed(mailbox.trusted_authserv_ids) if mailbox is not None else []


def prove(
    raw: bytes, sender: str, headers: list[tuple[str, str]], mailbox, token: ReplyToken | None
) -> Proof:
    """How the sender of this message is verified, strongest evidence first."""
    if token is not None:
        where = "reply address" if token.where == "address" else "reply token in In-Reply-To"
        return Proof(Verification.REPLY_ADDRESS, f"Signed {where} issued to {sender}.")
    trusted = _trusted_ids(mailbox)
    if not trusted and not (mailbox is not None and mailbox.verify_dkim):
        return UNVERIFIED
    if trusted:
        result = authenticity.from_authentication_results(headers, sender, trusted)
        if result.verified:
            return Proof(Verification.DKIM, result.detail)
    if mailbox is not None and mailbox.verify_dkim:
        result = authenticity.verify_dkim(
            raw,
            sender,
            dnsfunc=dns_txt_lookup,
            trusted_arc_sealers=_listed(mailbox.trusted_arc_sealers),
        )
        if result.verified:
            return Proof(Verification.DKIM, result.detail)
    return UNVERIFIED
