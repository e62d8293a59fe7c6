"""Settings are declared once in settings.py, typed: a bad value stops the start-up, naming the
variable, and app code reads no undeclared setting with a default of its own."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with these environment variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import helpline.settings"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HELPLINE_MAX_ATTACHMENTS", "abc", "is not a whole number"),
        ("HELPLINE_MAX_ATTACHMENTS", "-1", "is not a whole number of at least 0"),
        ("HELPLINE_WEBHOOK_TIMEOUT", "soon", "is not a number"),
        ("HELPLINE_GUEST_LINK_SHOWN", "maybe", "is not a yes/no value"),
        ("HELPLINE_JOB_MINUTES", "mark_overdue=often", "is not a list of name=whole number"),
    ],
)
def test_a_bad_value_stops_the_start_up_naming_the_variable(name, value, expected):
    result = start(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name}={value!r} {expected}" in result.stderr


def test_good_values_are_typed(tmp_path):
    code = (
        "import helpline.settings as s; "
        "print(s.HELPLINE_MAX_ATTACHMENTS, s.HELPLINE_WEBHOOK_TIMEOUT, "
        "s.HELPLINE_GUEST_LINK_SHOWN, s.HELPLINE_JOB_MINUTES)"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    environ.update(
        HELPLINE_MAX_ATTACHMENTS=" 7 ",
        HELPLINE_WEBHOOK_TIMEOUT="2.5",
        HELPLINE_GUEST_LINK_SHOWN="yes",
        HELPLINE_JOB_MINUTES="mark_overdue=2, purge_failed_mail=0",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7 2.5 True {'mark_overdue': 2, 'purge_failed_mail': 0}"


def _defaulted_reads(path: Path) -> list[str]:
    """`getattr(settings, "X", default)` calls in one file: "path:line"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_app_code_reads_only_declared_settings():
    problems = []
    for path in sorted((ROOT / "helpline").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative == "helpline/settings.py":
            continue
        problems += _defaulted_reads(path)
    assert not problems, "Declare these in settings.py and read settings.X:\n" + "\n".join(problems)
