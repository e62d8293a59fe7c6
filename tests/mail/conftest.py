"""Mail fixtures: a private Dovecot IMAP server and an aiosmtpd SMTP sink, both on loopback.

Dovecot must be installed (`make test` installs dovecot-imapd); when it is missing the fixture
fails loudly rather than skipping, so CI cannot silently lose the round-trip test.
"""

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
IMAP_USER = "helpdesk"
IMAP_PASSWORD = "imap-secret-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Dovecot:
    """A running private Dovecot; `deliver(raw)` drops a message into the helpdesk INBOX."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.host = "127.0.0.1"
        self.port = port
        self.user = IMAP_USER
        self.password = IMAP_PASSWORD

    def imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.imap()
        try:
            client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[bytes, bytes]]:
        """(flags, raw) of every message in `folder`."""
        client = self.imap()
        try:
            client.select(folder)
            _, data = client.uid("SEARCH", None, "ALL")
            found = []
            for uid in (data[0] or b"").split():
                _, parts = client.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                found.append((parts[0][0], parts[0][1]))
            return found
        finally:
            client.logout()

    def clear(self) -> None:
        client = self.imap()
        try:
            for folder in ("INBOX", "Processed"):
                status, count = client.select(folder)
                if status == "OK" and int(count[0] or 0) > 0:
                    client.store("1:*", "+FLAGS", "\\Deleted")
                    client.expunge()
        finally:
            client.logout()


def _write_config(root: Path, port: int) -> Path:
    password_hash = subprocess.run(
        [DOVEADM, "pw", "-s", "SHA512-CRYPT", "-p", IMAP_PASSWORD],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (root / "passwd").write_text(f"{IMAP_USER}:{password_hash}\n")
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    config = root / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
"""
    )
    return config


@pytest.fixture(scope="session")
def dovecot():
    """A private Dovecot IMAP server on a free loopback port for the whole test session."""
    if not os.path.exists(DOVECOT) or not os.path.exists(DOVEADM):
        pytest.fail(
            "Dovecot is not installed (need /usr/sbin/dovecot and doveadm): "
            "run `make test-deps` or apt-get install dovecot-imapd",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    config = _write_config(root, port)
    subprocess.run([DOVECOT, "-c", str(config)], check=True)
    try:
        _wait_for_port(port)
        server = Dovecot(root, port)
        server.deliver(b"Subject: warm-up\r\n\r\nwarm-up\r\n")
        server.clear()
        yield server
    finally:
        pid_file = root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            try:
                os.kill(pid, 15)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except ProcessLookupError:
                pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_server(dovecot):
    """The session's Dovecot with an empty INBOX."""
    dovecot.clear()
    yield dovecot
    dovecot.clear()


class SMTPSink:
    """Collects what the help desk sends: `messages` are parsed email.message.Message objects."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    @property
    def messages(self):
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]

    def to(self, address: str):
        return [
            message_from_bytes(raw, policy=policy.default)
            for _, rcpts, raw in self.received
            if address in rcpts
        ]

    def clear(self) -> None:
        self.received.clear()


@pytest.fixture
def smtp_sink(settings):
    """An aiosmtpd server on loopback; the help desk's mail goes there through MAILERS."""
    from aiosmtpd.controller import Controller

    sink = SMTPSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _fresh_loop_caches():
    """Own addresses and the ban list are cached for seconds; a rolled-back test must not leak."""
    from helpline.mail import loops

    loops.forget_own_addresses()
    yield
    loops.forget_own_addresses()
