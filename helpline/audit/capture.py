"""Model signals → audit entries, for the models in registry.AUDITED only.

pre_save reads the stored row (one query, only for updates and only of the recorded fields);
post_save compares and writes one entry when something recorded changed; post_delete writes what
the row held; m2m_changed writes memberships as [before, after] lists, joined to the entry of the
object's own save in the same request. Models outside the registry, tickets above all, get no
signal handler at all, so their writes cost nothing extra.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.signals import user_logged_in
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from helpline.audit import context, registry, values
from helpline.audit.models import Action, AuditEntry


@dataclass
class Tracked:
    """A registry entry resolved against its model."""

    model: type[models.Model]
    fields: list[models.Field]
    m2m: dict[str, type[models.Model]]  # accessor name → the related model
    secrets: frozenset[str]
    record_creation: object = None
    only_when: object = None
    attnames: frozenset[str] = field(default=frozenset())


_TRACKED: dict[type[models.Model], Tracked] = {}
# Through model → (model declaring the ManyToManyField, the field).
_THROUGH: dict[type[models.Model], tuple[type[models.Model], models.ManyToManyField]] = {}
# Model → select_related() arguments that name its rows without a query per row.
_LABEL_JOINS: dict[type[models.Model], tuple[str, ...]] = {}


def tracked_models() -> list[type[models.Model]]:
    """The models whose changes are being recorded (those of the registry that exist)."""
    return list(_TRACKED)


def connect() -> None:
    """Resolve the registry and connect the signal handlers (AuditConfig.ready)."""
    for spec in registry.AUDITED:
        try:
            model = apps.get_model(spec.model)
        except LookupError:
            continue  # An optional app that is not installed; checks.py tells about typos.
        tracked = _resolve(spec, model)
        _TRACKED[model] = tracked
        uid = f"helpline.audit.{spec.model}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)
    for label, joins in registry.LABEL_JOINS.items():
        try:
            _LABEL_JOINS[apps.get_model(label)] = joins
        except LookupError:
            continue
    for model, tracked in _TRACKED.items():
        for m2m_field in model._meta.many_to_many:
            if m2m_field.name in tracked.m2m:
                _connect_through(model, m2m_field)
        for rel in model._meta.related_objects:
            if rel.many_to_many and rel.get_accessor_name() in tracked.m2m:
                _connect_through(rel.related_model, rel.remote_field)
    user_model = apps.get_model("accounts", "User")
    pre_delete.connect(_before_user_delete, sender=user_model, dispatch_uid="helpline.audit.actor")
    user_logged_in.connect(_signed_in, dispatch_uid="helpline.audit.signed_in")
    from helpline.tickets import hooks

    hooks.on_ticket_deleted(_ticket_deleted)


def _resolve(spec: registry.Audited, model: type[models.Model]) -> Tracked:
    skip = set(spec.exclude) | registry.BOOKKEEPING
    chosen = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and (f.name in spec.only if spec.only else f.name not in skip)
    ]
    m2m = {
        f.name: f.related_model
        for f in model._meta.many_to_many
        if (f.name in spec.only if spec.only else f.name not in skip)
    }
    for rel in model._meta.related_objects:
        if rel.many_to_many and rel.get_accessor_name() in spec.reverse_m2m:
            m2m[rel.get_accessor_name()] = rel.related_model
    return Tracked(
        model=model,
        fields=chosen,
        m2m=m2m,
        secrets=frozenset(spec.secrets),
        record_creation=spec.record_creation,
        only_when=spec.only_when,
        attnames=frozenset(f.attname for f in chosen),
    )


def _connect_through(declaring: type[models.Model], m2m_field: models.ManyToManyField) -> None:
    through = m2m_field.remote_field.through
    if through in _THROUGH:
        return
    _THROUGH[through] = (declaring, m2m_field)
    m2m_changed.connect(
        _memberships_changed, sender=through, dispatch_uid=f"helpline.audit.{through._meta.label}"
    )


# --- saves ----------------------------------------------------------------------------------


_UNSET = object()


def _before_save(sender, instance, raw=False, using=None, update_fields=None, **kwargs):
    instance.__dict__.pop("_audit_before", None)
    if raw or (instance._state.adding and instance.pk is None):
        return  # a plain insert: nothing to read
    tracked = _TRACKED[sender]
    attnames = tracked.attnames
    if update_fields is not None:
        named = {sender._meta.get_field(name).attname for name in update_fields}
        attnames = attnames & named
    if not attnames:
        # e.g. last_login on every sign-in: nothing recorded, so not even the read.
        instance._audit_before = None
        return
    row = sender._base_manager.using(using).filter(pk=instance.pk).values(*attnames).first()
    # An empty dict: a new object saved with its primary key given (HelpdeskConfig row 1).
    instance._audit_before = row if row is not None else {}


def _after_save(sender, instance, created, raw=False, using=None, **kwargs):
    before = instance.__dict__.pop("_audit_before", _UNSET)
    if raw or before is None:
        return
    if before is _UNSET:
        before = {}
    tracked = _TRACKED[sender]
    actor = context.current_actor()
    if created and tracked.record_creation and not tracked.record_creation(instance, actor):
        return
    if tracked.only_when and not tracked.only_when(instance):
        return
    changes = _diff(tracked, instance, before, using=using)
    if changes or created:
        _write(instance, Action.CREATED if created else Action.CHANGED, changes, actor, using)


def _diff(tracked: Tracked, instance, before: dict, *, using) -> dict:
    """{field: [before, after]} of the recorded fields; `before` empty for a new row."""
    changes = {}
    for f in tracked.fields:
        new = getattr(instance, f.attname)
        if not before:
            if values.is_empty(new):
                continue
            old = None
        elif f.attname not in before:
            continue  # not part of this save (update_fields)
        else:
            old = before[f.attname]
            if values.same(f, old, new):
                continue
        if f.name in tracked.secrets:
            if f.attname == "password" and values.is_rehash(instance, old, new):
                continue
            changes[f.name] = values.secret()
            continue
        changes[f.name] = [
            values.plain(f, old, lambda fk, pk: _label_of(fk, pk, using)),
            values.plain(f, new, lambda fk, pk: _label_of(fk, pk, using, instance)),
        ]
    return changes


# --- deletions ------------------------------------------------------------------------------


def _after_delete(sender, instance, using=None, origin=None, **kwargs):
    tracked = _TRACKED[sender]
    if tracked.only_when and not tracked.only_when(instance):
        return
    snapshot = {}
    for f in tracked.fields:
        value = getattr(instance, f.attname, None)
        if f.name in tracked.secrets or values.is_empty(value):
            continue
        snapshot[f.name] = [values.plain(f, value, lambda fk, pk: _label_of(fk, pk, using)), None]
    _write(instance, Action.DELETED, snapshot, context.current_actor(), using)


def _before_user_delete(sender, instance, **kwargs):
    # The acting user deleting their own account: the entries written while the deletion runs
    # must not point at the row being removed (the foreign key would fail at commit).
    actor = context.current_actor()
    user = actor.resolve_user()
    if user is not None and user.pk == instance.pk:
        actor.label = actor.resolve_label(user)
        actor.user_gone = True


# --- memberships ----------------------------------------------------------------------------

MEMBERSHIP_ACTIONS = frozenset(
    {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}
)


def _memberships_changed(sender, instance, action, reverse, model, pk_set, using, **kwargs):
    if action not in MEMBERSHIP_ACTIONS:
        return
    _declaring, m2m_field = _THROUGH[sender]
    accessor = m2m_field.remote_field.get_accessor_name() if reverse else m2m_field.name
    tracked = _TRACKED.get(type(instance))
    if tracked is None or accessor not in tracked.m2m:
        return
    pending = instance.__dict__.setdefault("_audit_m2m", {})
    if action.startswith("pre_"):
        manager = getattr(instance, accessor)
        pending[accessor] = set(manager.using(using).values_list("pk", flat=True))
        return
    before = pending.pop(accessor, None)
    if before is None:
        return
    if action == "post_add":
        after = before | set(pk_set or ())
    elif action == "post_remove":
        after = before - set(pk_set or ())
    else:
        after = set()
    if after == before:
        return
    related = tracked.m2m[accessor]
    names = _labels(related, before | after, using)
    change = [
        sorted(names[pk] for pk in before),
        sorted(names[pk] for pk in after),
    ]
    _write_memberships(instance, accessor, change, context.current_actor(), using)


def _write_memberships(instance, accessor: str, change: list, actor, using) -> None:
    """Join the change to this object's entry of the same request, else write a new entry."""
    key = _key(instance, using)
    remembered = actor.recent.get(key)
    if remembered is not None:
        entry_id, changes = remembered
        if accessor in changes:  # set() removes, then adds: keep the first "before"
            change = [changes[accessor][0], change[1]]
        merged = {**changes, accessor: change}
        if AuditEntry.objects.using(using).filter(pk=entry_id).update(changes=merged):
            actor.remember(key, (entry_id, merged))
            return
    _write(instance, Action.M2M, {accessor: change}, actor, using)


# --- sign-ins -------------------------------------------------------------------------------


def _signed_in(sender, request, user, **kwargs):
    if not (user.is_staff or user.is_superuser):
        return
    actor = context.current_actor()
    if actor.user is None and actor.request is None:
        actor = context.Actor(channel=actor.channel, label=actor.label, user=user)
    _write(user, Action.SIGNED_IN, {}, actor, None)


# --- deleted tickets ------------------------------------------------------------------------


def _ticket_deleted(summary: dict, user, reason: str) -> None:
    """A deleted ticket leaves no history of its own: the audit log keeps what it was."""
    from helpline.tickets.models import Ticket

    actor = context.current_actor()
    if actor.resolve_user() is None and user is not None:
        actor = context.Actor(
            channel=actor.channel, label=actor.label, user=user, ip_address=actor.ip_address
        )
    ticket = Ticket(pk=summary.get("id"), number=summary["number"], subject=summary["subject"])
    changes = {key: [value, None] for key, value in summary.items() if key != "id"}
    if reason:
        changes["reason"] = [None, reason]
    _write(ticket, Action.DELETED, changes, actor, None)


# --- writing --------------------------------------------------------------------------------


def _key(instance, using) -> tuple:
    content_type = ContentType.objects.db_manager(using).get_for_model(type(instance))
    return (content_type.pk, str(instance.pk))


def _write(instance, action: str, changes: dict, actor: context.Actor, using) -> AuditEntry:
    user = actor.resolve_user()
    using = using or instance._state.db or "default"
    entry = AuditEntry.objects.using(using).create(
        actor=user,
        actor_label=actor.resolve_label(user)[:150],
        channel=actor.channel,
        ip_address=actor.ip_address,
        action=action,
        content_type=ContentType.objects.db_manager(using).get_for_model(type(instance)),
        object_id=str(instance.pk)[:64],
        object_repr=values.safe_str(instance)[:200],
        changes=changes,
    )
    actor.remember((entry.content_type_id, entry.object_id), (entry.pk, changes))
    return entry


def _label_of(fk: models.Field, pk, using, instance=None) -> str:
    """A related row by name and id, "Support (id 3)" (the name alone may change later)."""
    obj = None
    if instance is not None and fk.is_cached(instance):
        cached = fk.get_cached_value(instance)
        if cached is not None and getattr(cached, fk.target_field.attname, None) == pk:
            obj = cached
    if obj is None:
        related = fk.related_model
        rows = related._base_manager.using(using)
        if related in _LABEL_JOINS:
            rows = rows.select_related(*_LABEL_JOINS[related])
        obj = rows.filter(**{fk.target_field.attname: pk}).first()
    if obj is None:
        return f"id {pk} (deleted)"
    return f"{values.safe_str(obj)} (id {pk})"


def _labels(related: type[models.Model], pks: set, using) -> dict:
    rows = related._base_manager.using(using).filter(pk__in=pks)
    if related in _LABEL_JOINS:
        rows = rows.select_related(*_LABEL_JOINS[related])
    names = {row.pk: f"{values.safe_str(row)} (id {row.pk})" for row in rows}
    return {pk: names.get(pk, f"id {pk} (deleted)") for pk in pks}
