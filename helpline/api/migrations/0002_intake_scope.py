"""The osTicket-compatible intake now needs the scope tickets:intake on an agent's or admin's key.

Keys that could use it before (tickets:write) keep working if their user is an agent or an
administrator; requesters' keys lose it, which is the point (README "Mail you can trust").
"""

from django.db import migrations


def grant_intake(apps, schema_editor):
    ApiKey = apps.get_model("api", "ApiKey")
    Agent = apps.get_model("accounts", "Agent")
    agents = set(Agent.objects.filter(is_active=True).values_list("user_id", flat=True))
    for key in ApiKey.objects.filter(revoked_at__isnull=True).select_related("user"):
        scopes = list(key.scopes or [])
        staff = key.user.is_superuser or key.user_id in agents
        if staff and "tickets:write" in scopes and "tickets:intake" not in scopes:
            key.scopes = [*scopes, "tickets:intake"]
            key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant_intake, migrations.RunPython.noop)]
