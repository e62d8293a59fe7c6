"""Human ticket numbers: random digits or a prefixed sequence; never the database id."""

import secrets

from django.db import transaction

from helpline.tickets.models import HelpdeskConfig, NumberFormat, Ticket, TicketSequence


def _random_number(config: HelpdeskConfig) -> str:
    digits = config.number_digits
    # No leading zero, so the number reads the same as an integer in any tool.
    value = secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1)
    return f"{config.number_prefix}{value}"


def _sequence_number(config: HelpdeskConfig) -> str:
    with transaction.atomic():
        seq, _ = TicketSequence.objects.select_for_update().get_or_create(pk=1)
        seq.last += 1
        seq.save(update_fields=["last"])
    return f"{config.number_prefix}{seq.last:0{config.number_digits}d}"


def next_number(config: HelpdeskConfig | None = None) -> str:
    """A number not yet used by any ticket.

    Random numbers are checked here and again by the unique index at insert time (the caller
    retries on a collision); sequence numbers come from a locked counter row.
    """
    config = config or HelpdeskConfig.load()
    draw = _sequence_number if config.number_format == NumberFormat.SEQUENCE else _random_number
    for _ in range(1000 if draw is _sequence_number else 20):
        # A sequence skips numbers already taken (imported tickets, an earlier random format).
        number = draw(config)
        if not Ticket.objects.filter(number=number).exists():
            return number
    raise RuntimeError("Ticket number space is exhausted: raise the number of digits.")
