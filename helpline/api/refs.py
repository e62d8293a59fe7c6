"""References in API input (an id or a name) → model objects, or a 404 naming the field.

Any id or name is well-formed (the schema allows it); one that names nothing is "not found",
like a ticket number that names none, not "invalid".
"""

from django.db.models import Model, Q

from helpline.accounts.models import Department, Team, User
from helpline.accounts.people import find_by_email
from helpline.sla.models import SLAPlan
from helpline.tickets.access import parse_id
from helpline.tickets.models import HelpTopic, Priority, Status


class UnknownReference(Exception):
    """`ref` in `field` names nothing: a 404 with {field: [message]}."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def resolve(model: type[Model], ref, field: str, *, name_field: str = "name"):
    """The object `ref` names: by id, or by `name_field` (case-insensitive)."""
    if ref is None:
        return None
    pk = parse_id(ref)
    query = Q(pk=pk) if pk is not None else Q(**{f"{name_field}__iexact": str(ref).strip()})
    obj = model._default_manager.filter(query).first()
    if obj is None:
        label = model._meta.verbose_name
        raise UnknownReference(field, f"There is no {label} “{str(ref)[:80]}”.")
    return obj


def department(ref, field: str = "department") -> Department | None:
    return resolve(Department, ref, field)


def team(ref, field: str = "team") -> Team | None:
    return resolve(Team, ref, field)


def priority(ref, field: str = "priority") -> Priority | None:
    return resolve(Priority, ref, field)


def status(ref, field: str = "status") -> Status | None:
    return resolve(Status, ref, field)


def help_topic(ref, field: str = "help_topic") -> HelpTopic | None:
    return resolve(HelpTopic, ref, field)


def sla_plan(ref, field: str = "sla_plan") -> SLAPlan | None:
    return resolve(SLAPlan, ref, field)


def user(ref, field: str) -> User | None:
    """A user by id, username or email address."""
    if isinstance(ref, str) and "@" in ref:
        found = find_by_email(ref)
        if found is None:
            raise UnknownReference(field, f"There is no user “{ref[:80]}”.")
        return found
    return resolve(User, ref, field, name_field="username")
