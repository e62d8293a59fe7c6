"""Webhook targets (SSRF): loopback, private, link-local … are refused when saved and delivered.

No test here touches the network: `ssrf.resolve` is replaced, and connections go to a receiver on
127.0.0.1 (allowed per test through HELPLINE_WEBHOOK_ALLOWED_NETWORKS) or to a recording stub.
"""

import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from helpline.api import ssrf, webhooks
from helpline.api.models import DeliveryState, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/x",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://localhost:8000/",
    "http://hooks.localhost/",
    "https://127.0.0.1./",
]


class Resolver:
    """Stands in for DNS: answers from a list of replies, one per lookup, and counts lookups."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def dns(monkeypatch):
    """Install a Resolver: `dns("1.2.3.4")`, or several answers for successive lookups."""

    def install(*answers: str | list[str]) -> Resolver:
        resolver = Resolver(*[[a] if isinstance(a, str) else a for a in answers])
        monkeypatch.setattr(ssrf, "resolve", resolver)
        return resolver

    return install


@pytest.fixture
def connections(monkeypatch):
    """Record where deliveries connect to, refusing every connection (no network)."""
    seen: list[tuple[str, int]] = []

    def create_connection(address, timeout=None, *args):
        seen.append(address)
        raise ConnectionRefusedError("test stub: nothing listens")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


class Receiver:
    """An HTTP(S) endpoint on 127.0.0.1 recording the Host header (and TLS server name)."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    r = Receiver()
    yield r
    r.close()


def _deliver(admin_user, url: str) -> WebhookDelivery:
    """One delivery attempt to `url` (the webhook is stored without validation, as an old row)."""
    hook, _ = Webhook.objects.update_or_create(
        name="Target", defaults={"owner": admin_user, "url": url, "secret": "s3cret"}
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ticket.created", payload={})
    webhooks.attempt(str(delivery.pk))
    delivery.refresh_from_db()
    return delivery


# --- when the webhook is saved -------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_targets_are_refused_when_saved(admin_user, url):
    hook = Webhook(owner=admin_user, name="x", url=url)
    with pytest.raises(ValidationError) as raised:
        hook.full_clean()
    (message,) = [m for m in raised.value.message_dict["url"] if "public addresses" in m]
    assert "HELPLINE_WEBHOOK_ALLOWED_NETWORKS" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/in",
        "http://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "https://crm.internal.example.com:8443/hook",  # a name: checked after DNS, on delivery
    ],
)
def test_public_targets_and_host_names_are_accepted_when_saved(admin_user, url, monkeypatch):
    monkeypatch.setattr(ssrf, "resolve", lambda *a: pytest.fail("saving must not resolve"))
    Webhook(owner=admin_user, name="x", url=url).full_clean()


def test_the_allow_list_opens_a_local_network(admin_user, settings):
    settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    Webhook(owner=admin_user, name="x", url="http://10.20.3.4:8080/hook").full_clean()
    Webhook(owner=admin_user, name="x", url="http://[fd00:1::5]/hook").full_clean()
    Webhook(owner=admin_user, name="x", url="http://[::ffff:10.20.3.4]/hook").full_clean()
    for url in ["http://10.30.0.1/", "http://127.0.0.1/", "http://169.254.169.254/"]:
        with pytest.raises(ValidationError):
            Webhook(owner=admin_user, name="x", url=url).full_clean()


def test_the_admin_form_says_why(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/api/webhook/add/",
        {
            "name": "Metadata",
            "owner": admin_user.pk,
            "url": "http://169.254.169.254/latest/meta-data/",
            "secret": "s",
            "events": ["ticket.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "169.254.169.254 is a link-local address" in response.content.decode()
    assert not Webhook.objects.exists()


# --- numeric spellings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, address",
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("08.1", None),
        ("0x7g.1", None),
    ],
)
def test_ip_literal_reads_every_spelling(host, address):
    parsed = ssrf.ip_literal(host)
    assert (None if parsed is None else str(parsed)) == address


# --- at delivery, after DNS ------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, kind",
    [
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address (IPv4-mapped 127.0.0.1)"),
        ("10.1.2.3", "a private address"),
        ("100.100.100.200", "a carrier-grade NAT address"),
        (["8.8.8.8", "192.168.0.10"], "a private address"),  # any one address refuses
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused(
    admin_user, dns, connections, answer, kind
):
    resolver = dns(answer)
    delivery = _deliver(admin_user, "https://hooks.example.test/in")
    assert delivery.state == DeliveryState.RETRYING and delivery.attempts == 1
    assert delivery.response_code is None and delivery.response_body == ""
    assert delivery.error.startswith("Refused: hooks.example.test resolves to ")
    assert f", {kind}; webhooks are only sent to public addresses" in delivery.error
    assert resolver.lookups == ["hooks.example.test"] and connections == []
    assert Webhook.objects.get().failure_streak == 1  # a failure like any other


def test_a_name_resolving_to_a_public_address_is_connected_to_at_that_address(
    admin_user, dns, connections
):
    resolver = dns("93.184.215.14")
    delivery = _deliver(admin_user, "https://hooks.example.test:8443/in")
    assert connections == [("93.184.215.14", 8443)]
    assert resolver.lookups == ["hooks.example.test"]
    assert delivery.error.startswith("ConnectionRefusedError")


def test_dns_rebinding_gains_nothing_there_is_one_lookup(admin_user, dns, connections):
    # First answer public, every later one the metadata service: only the first is ever used.
    resolver = dns("93.184.215.14", "169.254.169.254")
    _deliver(admin_user, "http://rebind.example.test/in")
    assert resolver.lookups == ["rebind.example.test"]
    assert connections == [("93.184.215.14", 80)]


def test_rebinding_after_the_check_does_not_redirect_a_real_delivery(admin_user, dns, receiver):
    # The vetted (allow-listed) address is used for the connection, with the name as Host.
    resolver = dns("127.0.0.1", "169.254.169.254")
    delivery = _deliver(admin_user, f"http://hooks.example.test:{receiver.port}/in")
    assert delivery.state == DeliveryState.DELIVERED, delivery.error
    assert resolver.lookups == ["hooks.example.test"]
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.example.test:{receiver.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/",
    ],
)
def test_literal_addresses_are_refused_at_delivery_without_a_lookup(
    admin_user, dns, connections, url
):
    resolver = dns("8.8.8.8")
    delivery = _deliver(admin_user, url)
    assert delivery.error.startswith("Refused: ") and "public addresses" in delivery.error
    assert resolver.lookups == [] and connections == []


def test_the_allow_list_lets_a_delivery_through(admin_user, settings):
    local = Receiver()
    try:
        url = f"http://127.0.0.1:{local.port}/hook"
        settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = []
        refused = _deliver(admin_user, url)
        assert refused.error.startswith("Refused: 127.0.0.1 is a loopback address")
        assert local.requests == []
        settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        delivered = _deliver(admin_user, url)
        assert delivered.state == DeliveryState.DELIVERED and len(local.requests) == 1
    finally:
        local.close()


def test_a_refused_target_keeps_failing_until_the_webhook_is_disabled(
    admin_user, dns, connections, settings, api_as
):
    settings.HELPLINE_WEBHOOK_DISABLE_AFTER = 2
    dns("169.254.169.254")
    _deliver(admin_user, "http://metadata.example.test/")
    _deliver(admin_user, "http://metadata.example.test/")
    hook = Webhook.objects.get()
    assert not hook.is_active and "Refused: metadata.example.test" in hook.disabled_reason
    listed = api_as(admin_user, scopes=["admin:read"]).get(f"/webhooks/{hook.pk}/deliveries")
    assert all(d["error"].startswith("Refused: ") for d in listed.json())


def test_a_bad_allow_list_is_a_clear_configuration_error(settings):
    settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    with pytest.raises(Exception, match="“intranet” is not an IP network"):
        ssrf.allowed_networks()


def test_every_refused_kind_is_named():
    for host, kind in [
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.1.2.3", "reserved"),
        ("fec0::1", "reserved"),
        ("192.0.2.1", "non-public"),  # documentation range: caught by is_global
    ]:
        assert kind in ssrf.refusal(ipaddress.ip_address(host), [])


# --- https: the name is what TLS checks ------------------------------------------------------


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.example.test: (certificate path, key path)."""
    # Debian's openssl is on every machine of this project: its absence is a failure, not a skip.
    assert shutil.which("openssl"), "openssl is needed to make a test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert)]
        + ["-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate, settings):
    settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    r = Receiver(tls=context)
    yield r
    r.close()


@pytest.fixture
def trust_certificate(certificate, monkeypatch):
    """Deliveries trust the test certificate (and still check the host name against it)."""
    monkeypatch.setattr(
        webhooks, "tls_context", lambda: ssl.create_default_context(cafile=str(certificate[0]))
    )


def test_https_sends_the_name_for_sni_and_checks_the_certificate_against_it(
    admin_user, dns, tls_receiver, trust_certificate
):
    dns("127.0.0.1")
    delivery = _deliver(admin_user, f"https://hooks.example.test:{tls_receiver.port}/in")
    assert delivery.state == DeliveryState.DELIVERED, delivery.error
    assert tls_receiver.server_names == ["hooks.example.test"]
    (request,) = tls_receiver.requests
    assert request["headers"]["Host"] == f"hooks.example.test:{tls_receiver.port}"
    assert json.loads(request["body"]) == {}


def test_https_refuses_a_certificate_for_another_name(
    admin_user, dns, tls_receiver, trust_certificate
):
    dns("127.0.0.1")
    delivery = _deliver(admin_user, f"https://other.example.test:{tls_receiver.port}/in")
    assert delivery.state == DeliveryState.RETRYING
    assert "SSLCertVerificationError" in delivery.error and "other.example.test" in delivery.error
    assert tls_receiver.requests == []


def test_https_refuses_an_untrusted_certificate(admin_user, dns, tls_receiver):
    dns("127.0.0.1")
    delivery = _deliver(admin_user, f"https://hooks.example.test:{tls_receiver.port}/in")
    assert delivery.state == DeliveryState.RETRYING
    assert "SSLCertVerificationError" in delivery.error
    assert tls_receiver.requests == []
