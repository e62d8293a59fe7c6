"""Run inside `helpline shell -c` by test_backup: fill a help desk and describe it as JSON.

Kept free of pytest so that a subprocess with its own database can import it.
"""

import base64
import json

from django.core.serializers.json import DjangoJSONEncoder


def populate() -> None:
    """Several tickets with replies, notes, messages, attachments and status changes."""
    from helpline.accounts.models import Department, User
    from helpline.tickets import actions
    from helpline.tickets.actions import NewAttachment
    from helpline.tickets.models import Priority, Status

    john = User.objects.get(username="john")
    jane = User.objects.get(username="jane")
    karen = User.objects.get(username="karen")
    ken = User.objects.get(username="ken")
    support = Department.objects.get(name="Support")
    banking = Department.objects.get(name="Online Banking")

    printer = actions.open_ticket(
        karen,
        requester=karen,
        subject="Printer on floor 3 jams",
        body="It jams on every second page.",
        department=support,
        attachments=[
            NewAttachment("jam.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")
        ],
    )
    actions.assign(john, printer, agent=john)
    actions.add_note(john, printer, "Same model as last month's ticket.")
    actions.reply(
        john,
        printer,
        "Please send the printer's serial number.",
        attachments=[NewAttachment("how-to-find-serial.txt", "Look under the tray — ü\n".encode())],
        status=Status.objects.get(name="Pending"),
    )
    actions.add_message(karen, printer, "Serial is PX-1234.")
    actions.set_priority(john, printer, Priority.objects.get(name__iexact="high"))

    login = actions.open_ticket(
        ken,
        requester=ken,
        subject="Cannot log in to online banking",
        body="<b>Locked out</b> since this morning.",
        department=banking,
    )
    actions.reply(jane, login, "Unlocked your account.", status=Status.objects.get(name="Resolved"))
    actions.open_ticket(john, requester=karen, subject="Phone call: new laptop", body="Needs one.")


def snapshot() -> None:
    """Print every ticket, thread entry, event and attachment (with file bytes) as JSON."""
    from helpline.ops import counts
    from helpline.tickets.models import Attachment, Event, ThreadEntry, Ticket

    def rows(model):
        return list(model.objects.order_by("pk").values())

    attachments = rows(Attachment)
    for row in attachments:
        with Attachment.objects.get(pk=row["id"]).file.open("rb") as handle:
            row["content"] = base64.b64encode(handle.read()).decode()
    data = {
        "counts": counts(),
        "tickets": rows(Ticket),
        "entries": rows(ThreadEntry),
        "events": rows(Event),
        "attachments": attachments,
    }
    print("SNAPSHOT " + json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True))
