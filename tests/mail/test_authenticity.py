"""Is the From: domain authenticated? DKIM and ARC checked with our own keys, A-R headers read.

Keys are RSA-1024 generated here in pure Python (no key files in the repository, no openssl), and
DNS is a dictionary: nothing in this file touches the network. Ed25519 is not tested: dkimpy
needs PyNaCl for it, which is not a dependency (an ed25519 signature simply does not verify).
"""

import base64
import functools
import math
import random
import re
import time

import dkim
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpline.mail.authenticity import (
    Authenticity,
    aligned,
    from_authentication_results,
    org_domain,
    verify_dkim,
)

# Keys ------------------------------------------------------------------------------------------


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (0b11 << (bits - 2)) | 1
        if _is_probable_prime(candidate, rng):
            return candidate


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _int(x: int) -> bytes:
    return _der(0x02, x.to_bytes(x.bit_length() // 8 + 1, "big"))


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


@functools.cache
def rsa_key(seed: int) -> tuple[bytes, bytes]:
    """(PKCS#1 PEM private key, DKIM TXT record) for a deterministic 1024-bit RSA key."""
    rng = random.Random(seed)
    e = 65537
    while True:
        p, q = _prime(512, rng), _prime(512, rng)
        phi = (p - 1) * (q - 1)
        if p != q and math.gcd(e, phi) == 1 and (p * q).bit_length() == 1024:
            break
    n, d = p * q, pow(e, -1, phi)
    private = _seq(
        _int(0), _int(n), _int(e), _int(d), _int(p), _int(q),
        _int(d % (p - 1)), _int(d % (q - 1)), _int(pow(q, -1, p)),
    )  # fmt: skip
    b64 = base64.b64encode(private).decode()
    pem = "-----BEGIN RSA PRIVATE KEY-----\n"
    pem += "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    pem += "\n-----END RSA PRIVATE KEY-----\n"
    rsa_oid = _der(0x06, bytes.fromhex("2a864886f70d010101"))
    spki = _seq(_seq(rsa_oid, _der(0x05, b"")), _der(0x03, b"\x00" + _seq(_int(n), _int(e))))
    return pem.encode(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)


SENDER_KEY = 1  # example.com and mail.example.com
LIST_KEY = 2  # lists.example.net, the forwarder
ATTACKER_KEY = 3  # evil.example

RECORDS = {
    b"sel._domainkey.example.com": SENDER_KEY,
    b"sel._domainkey.mail.example.com": SENDER_KEY,
    b"sel._domainkey.evil.example": ATTACKER_KEY,
    b"arc._domainkey.lists.example.net": LIST_KEY,
    b"arc._domainkey.evil.example": ATTACKER_KEY,
}
LOOKED_UP: list[bytes] = []


def dns(name: bytes) -> bytes | None:
    """Stub DNS: the TXT record of a known key name, None for anything else."""
    LOOKED_UP.append(name)
    seed = RECORDS.get(name.rstrip(b".").lower())
    return rsa_key(seed)[1] if seed else None


# Messages --------------------------------------------------------------------------------------

MESSAGE = (
    b"From: Alice Example <alice@example.com>\r\n"
    b"To: help@helpline.test\r\n"
    b"Subject: The printer is on fire\r\n"
    b"Date: Tue, 02 Jun 2026 09:00:00 +0000\r\n"
    b"Message-ID: <fire-1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"The printer on floor 2 is on fire again.\r\n"
    b"Please send someone.\r\n"
)
FROM = "alice@example.com"


def signed(message: bytes = MESSAGE, domain: bytes = b"example.com", key: int = SENDER_KEY, **kw):
    header = dkim.sign(message, b"sel", domain, rsa_key(key)[0], **kw)
    return header + message


def verify(raw: bytes, from_address: str = FROM, **kw) -> Authenticity:
    result = verify_dkim(raw, from_address, dnsfunc=kw.pop("dnsfunc", dns), **kw)
    assert isinstance(result, Authenticity)
    assert result.verified == bool(result.method)
    assert result.detail
    return result


# org_domain and aligned ------------------------------------------------------------------------


def test_org_domain_uses_the_public_suffix_list():
    assert org_domain("example.com") == "example.com"
    assert org_domain("Mail.Example.COM.") == "example.com"
    assert org_domain("a.b.example.co.uk") == "example.co.uk"
    assert org_domain("x.y.evil.example") == "evil.example"  # unknown TLD: treated as public
    assert org_domain("co.uk") == "co.uk"
    assert org_domain("bücher.example") == "xn--bcher-kva.example"
    assert org_domain("") == org_domain("not a domain") == org_domain("a..b") == ""
    assert org_domain("example.co\n.uk") == org_domain("-x.com") == org_domain(None) == ""


def test_relaxed_alignment():
    assert aligned("example.com", "example.com")
    assert aligned("mail.example.com", "example.com")
    assert aligned("EXAMPLE.com", "news.example.com")
    assert not aligned("evil.example", "example.com")
    assert not aligned("example.com.evil.example", "example.com")
    assert not aligned("co.uk", "example.co.uk")
    assert not aligned("example.co.uk", "other.co.uk")
    assert not aligned("", "")


# verify_dkim: DKIM ------------------------------------------------------------------------------


def test_aligned_signature_verifies():
    result = verify(signed())
    assert result == Authenticity(
        True, "dkim", "DKIM signature of example.com verified (aligned with From: example.com)"
    )


def test_the_from_address_may_carry_a_display_name_and_capitals():
    assert verify(signed(), "Alice <Alice@EXAMPLE.com>").verified


def test_signature_of_a_subdomain_is_aligned():
    result = verify(signed(domain=b"mail.example.com"))
    assert result.verified and result.method == "dkim"
    assert "mail.example.com" in result.detail


def test_valid_signature_of_another_domain_does_not_verify():
    LOOKED_UP.clear()
    result = verify(signed(domain=b"evil.example", key=ATTACKER_KEY))
    assert not result.verified and result.method == ""
    assert "evil.example is not aligned with From: example.com" in result.detail
    assert LOOKED_UP == []  # an unaligned signature is not worth a DNS lookup


def test_any_aligned_signature_suffices_among_several():
    raw = signed(signed(domain=b"evil.example", key=ATTACKER_KEY))
    assert verify(raw).verified
    broken = signed(MESSAGE, domain=b"example.com", key=ATTACKER_KEY)  # wrong key for example.com
    raw = signed(broken, domain=b"mail.example.com")
    result = verify(raw)
    assert result.verified and "mail.example.com" in result.detail


def test_body_altered_after_signing_does_not_verify():
    raw = signed().replace(b"floor 2", b"floor 3")
    result = verify(raw)
    assert not result.verified
    assert "body hash mismatch" in result.detail


def test_from_header_altered_does_not_verify():
    raw = signed().replace(b"Alice Example <alice@", b"Alice Example <boss@")
    result = verify(raw, "boss@example.com")
    assert not result.verified
    assert "did not verify" in result.detail


def test_added_header_value_change_is_caught():
    raw = signed().replace(b"Subject: The printer", b"Subject: Pay the invoice, printer")
    assert not verify(raw).verified


def test_second_from_header_does_not_verify():
    raw = b"From: boss@example.com\r\n" + signed()
    result = verify(raw, "boss@example.com")
    assert not result.verified
    assert "2 From: headers" in result.detail


def test_from_address_must_match_the_from_header():
    # A caller passing some other address (say Reply-To) must not borrow the signature.
    result = verify(signed(), "ceo@mail.example.com")
    assert not result.verified
    assert "does not match" in result.detail


def test_unsigned_message_does_not_verify():
    result = verify(MESSAGE)
    assert not result.verified
    assert result.detail == "No DKIM signature"


def test_key_missing_in_dns_does_not_verify():
    result = verify(signed(), dnsfunc=lambda name: None)
    assert not result.verified
    assert "no key published at sel._domainkey.example.com" in result.detail


def test_wrong_key_in_dns_does_not_verify():
    result = verify(signed(key=ATTACKER_KEY))
    assert not result.verified
    assert "bad signature" in result.detail


@pytest.mark.parametrize("error", [TimeoutError("timed out"), OSError("network down"), KeyError])
def test_dns_error_does_not_verify_and_does_not_raise(error):
    def failing(name):
        raise error

    result = verify(signed(), dnsfunc=failing)
    assert not result.verified
    assert "DNS lookup of sel._domainkey.example.com failed" in result.detail


def test_dnsfunc_returning_nonsense_does_not_raise():
    for answer in (b"garbage", "v=DKIM1; p=", b"v=DKIM1; k=rsa; p=AAAA", 42, b"\xff" * 40):
        result = verify(signed(), dnsfunc=lambda name, answer=answer: answer)
        assert not result.verified


def test_signature_with_body_length_limit_is_not_accepted():
    # l= lets anyone append text below the signed part.
    raw = signed(length=True)
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns(name))  # valid for dkimpy...
    result = verify(raw + b"PS: wire the money to account 666.\r\n")
    assert not result.verified  # ...but not for us
    assert "l=" in result.detail


def test_garbage_signatures_do_not_raise():
    for junk in (
        b"DKIM-Signature: garbage\r\n",
        b"DKIM-Signature: v=1; d=example.com; s=sel; h=from; b=!!!; bh=\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\n",
        b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\n",
        b"DKIM-Signature: d=\xff\xfe.com; s=\x00; h=from\r\n",
        b"DKIM-Signature: d=example.com; d=example.com\r\n",
        b"DKIM-Signature:\r\n",
    ):
        result = verify(junk + MESSAGE)
        assert not result.verified


def test_hostile_messages_do_not_raise():
    for raw, address in [
        (b"", FROM),
        (b"\r\n\r\n", FROM),
        (b"not a header line\r\n\r\nbody", FROM),
        (MESSAGE, ""),
        (MESSAGE, "no address here"),
        (MESSAGE, "a@b@c"),
        (MESSAGE.replace(b"From: Alice Example <alice@example.com>\r\n", b""), FROM),
        ("From: alice@example.com\r\n\r\nstr, not bytes", FROM),
        (None, FROM),
        (signed(), None),
        (signed().replace(b"Alice Example", "Älice Ëxample".encode()), FROM),
        (signed().replace(b"example.com>", "exämple.com>".encode()), "alice@exämple.com"),
    ]:
        result = verify_dkim(raw, address, dnsfunc=dns)
        assert isinstance(result, Authenticity) and not result.verified and result.detail


def test_non_ascii_from_is_fine_when_signed():
    message = MESSAGE.replace(b"Alice Example", "Älice Ëxample".encode())
    assert verify(signed(message)).verified


def test_many_signatures_are_capped():
    raw = MESSAGE
    for _ in range(15):
        raw = signed(raw, key=ATTACKER_KEY)  # example.com signatures made with the wrong key
    LOOKED_UP.clear()
    result = verify(raw)
    assert not result.verified
    assert "further signatures not checked" in result.detail
    assert len(LOOKED_UP) <= 1  # the same key is looked up once per message


def test_ten_megabyte_message_is_quick():
    body = b"".join(
        b"line %d of a very large attachment, base64 or not\r\n" % i for i in range(200_000)
    )
    message = MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    assert len(message) > 10_000_000
    raw = signed(message)
    start = time.monotonic()
    assert verify(raw).verified
    assert not verify(raw[:-3] + b"!\r\n").verified
    assert time.monotonic() - start < 10


class _Rdata:
    def __init__(self, record: bytes):
        self.strings = (record[:100], record[100:])  # a long TXT record comes in pieces


class _Answer:
    def __init__(self, records: list[bytes]):
        self.rrset = [_Rdata(r) for r in records] or None

    def __iter__(self):
        return iter(self.rrset or ())


def test_default_dns_uses_dnspython_with_a_timeout(monkeypatch):
    from dns import exception as dns_exception
    from dns import resolver as dns_resolver

    calls = []

    def resolve(qname, rdtype, **kw):
        calls.append((qname, rdtype, kw))
        if qname == "sel._domainkey.example.com.":
            return _Answer([b"some other TXT record", dns(qname.encode())])
        raise dns_resolver.NXDOMAIN

    monkeypatch.setattr(dns_resolver, "resolve", resolve)
    assert verify_dkim(signed(), FROM).verified  # dnsfunc=None: the real resolver, mocked here
    assert calls == [
        (
            "sel._domainkey.example.com.",
            "TXT",
            {"lifetime": 3.0, "search": False, "raise_on_no_answer": False},
        )
    ]
    result = verify_dkim(signed(domain=b"mail.example.com"), FROM)
    assert "no key published at sel._domainkey.mail.example.com" in result.detail

    monkeypatch.setattr(dns_resolver, "resolve", lambda *a, **kw: _Answer([]))
    assert "no key published" in verify_dkim(signed(), FROM).detail

    def timeout(*args, **kw):
        raise dns_exception.Timeout

    monkeypatch.setattr(dns_resolver, "resolve", timeout)
    result = verify_dkim(signed(), FROM)
    assert (
        not result.verified and "DNS lookup of sel._domainkey.example.com failed" in result.detail
    )


def test_dns_time_budget_is_shared_by_all_lookups(monkeypatch):
    import helpline.mail.authenticity as authenticity

    monkeypatch.setattr(authenticity, "DNS_BUDGET", 0.0)
    LOOKED_UP.clear()
    result = verify(signed())
    assert not result.verified and "time budget" in result.detail
    assert LOOKED_UP == []


# verify_dkim: ARC -------------------------------------------------------------------------------

LIST = "lists.example.net"


def through_list(
    original: bytes,
    results: str = "dkim=pass header.d=example.com; dmarc=pass header.from=example.com",
    sealer: bytes = b"lists.example.net",
    key: int = LIST_KEY,
) -> bytes:
    """A mailing list: records what it saw, adds a tag and a footer (breaking DKIM), seals."""
    seen = f"Authentication-Results: {sealer.decode()}; {results}\r\n".encode() + original
    header, body = seen.split(b"\r\n\r\n", 1)
    header = header.replace(b"Subject: ", b"Subject: [printers] ")
    body += b"-- \r\nprinters mailing list - unsubscribe: https://lists.example.net/\r\n"
    relayed = header + b"\r\n\r\n" + body
    arc_set = dkim.arc_sign(relayed, b"arc", sealer, rsa_key(key)[0], sealer)
    assert len(arc_set) == 3
    return b"".join(arc_set) + relayed


def test_arc_from_a_trusted_list_verifies_when_the_list_saw_an_aligned_pass():
    raw = through_list(signed())
    assert not verify(raw).verified  # the footer broke the original signature...
    result = verify(raw, trusted_arc_sealers=[LIST])
    assert result.verified and result.method == "arc"  # ...and the list vouches for it
    assert "lists.example.net" in result.detail and "example.com" in result.detail


def test_arc_first_set_with_only_dkim_pass_is_enough():
    raw = through_list(signed(), results="dkim=pass header.d=mail.example.com; spf=pass")
    assert verify(raw, trusted_arc_sealers=[LIST]).method == "arc"


def test_arc_is_not_honoured_without_trusted_sealers():
    result = verify(through_list(signed()))
    assert not result.verified
    assert "not a trusted forwarder" in result.detail


def test_arc_sealed_by_anyone_is_not_proof():
    # The attacker forges From: example.com and seals its own claim that DKIM passed.
    raw = through_list(MESSAGE, sealer=b"evil.example", key=ATTACKER_KEY)
    assert not verify(raw, trusted_arc_sealers=[LIST]).verified
    # Even when the attacker's chain is valid in itself.
    cv, _, _ = dkim.arc_verify(raw, dnsfunc=lambda name, timeout=5: dns(name))
    assert cv == dkim.CV_Pass


def test_arc_first_set_must_show_an_aligned_pass():
    for results in (
        "dkim=fail header.d=example.com",
        "dkim=pass header.d=evil.example",
        "dmarc=fail header.from=example.com; dkim=pass header.d=example.com",
        "spf=pass smtp.mailfrom=example.com",
    ):
        raw = through_list(signed(), results=results)
        result = verify(raw, trusted_arc_sealers=[LIST])
        assert not result.verified, results
        assert "ARC chain validated, but" in result.detail


def test_tampered_arc_seal_does_not_verify():
    raw = through_list(signed())
    seal = re.search(rb"ARC-Seal:.*?b=\s*([A-Za-z0-9+/]{10})", raw, re.S)
    start = seal.start(1)
    flipped = b"A" if raw[start : start + 1] != b"A" else b"B"
    tampered = raw[:start] + flipped + raw[start + 1 :]
    result = verify(tampered, trusted_arc_sealers=[LIST])
    assert not result.verified
    assert "ARC chain did not validate" in result.detail


def test_tampered_arc_results_do_not_verify():
    raw = through_list(signed(), results="dkim=fail header.d=example.com")
    forged = raw.replace(b"dkim=fail header.d=example.com", b"dkim=pass header.d=example.com")
    result = verify(forged, trusted_arc_sealers=[LIST])
    assert not result.verified
    assert "ARC chain did not validate" in result.detail


def test_message_altered_after_sealing_does_not_verify():
    raw = through_list(signed()).replace(b"floor 2", b"floor 3")
    assert not verify(raw, trusted_arc_sealers=[LIST]).verified


def test_arc_with_missing_key_or_dns_error_does_not_verify():
    raw = through_list(signed())

    def no_list_key(name):
        return None if b"lists" in name else dns(name)

    def failing(name):
        raise TimeoutError("timed out")

    for dnsfunc in (no_list_key, failing):
        result = verify(raw, trusted_arc_sealers=[LIST], dnsfunc=dnsfunc)
        assert not result.verified
        assert "ARC chain did not validate" in result.detail


# from_authentication_results --------------------------------------------------------------------

TRUSTED = ["mx.helpline.test"]


def headers(*results: str) -> list[tuple[str, str]]:
    """Headers of a received message: Authentication-Results values first (topmost first)."""
    return [
        *(("Authentication-Results", value) for value in results),
        ("Received", "from mail.example.com by mx.helpline.test; Tue, 2 Jun 2026 09:00:01 +0000"),
        ("From", "Alice Example <alice@example.com>"),
        ("Subject", "The printer is on fire"),
    ]


def ar(*results: str, **kw) -> Authenticity:
    result = from_authentication_results(
        kw.get("headers") or headers(*results), kw.get("address", FROM), kw.get("trusted", TRUSTED)
    )
    assert isinstance(result, Authenticity)
    assert result.verified == bool(result.method)
    assert result.detail
    return result


def test_trusted_dmarc_pass_verifies():
    result = ar(
        "mx.helpline.test; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"
    )
    assert result == Authenticity(
        True,
        "dmarc",
        "DMARC passed for example.com (aligned with From: example.com; "
        "reported by mx.helpline.test)",
    )


def test_authserv_id_is_compared_case_insensitively():
    assert ar("MX.Helpline.Test; dmarc=pass header.from=example.com").verified
    assert ar(
        "mx.helpline.test; dmarc=pass header.from=example.com", trusted=["MX.HELPLINE.TEST"]
    ).verified
    assert ar(
        "mx.helpline.test; dmarc=pass header.from=example.com", trusted="mx.helpline.test"
    ).verified


def test_untrusted_authserv_id_is_ignored():
    result = ar("mx.evil.example; dmarc=pass header.from=example.com")
    assert not result.verified
    assert result.detail == "No Authentication-Results header from a trusted server"
    assert not ar("mx.helpline.test.evil.example; dmarc=pass header.from=example.com").verified
    assert not ar("mx.helpline.test; dmarc=pass header.from=example.com", trusted=[]).verified


def test_trusted_dkim_pass_aligned_verifies():
    result = ar("mx.helpline.test; dkim=pass header.d=example.com header.s=sel")
    assert result.verified and result.method == "dkim"
    assert result.detail.startswith(
        "DKIM signature of example.com verified (aligned with From: example.com"
    )
    assert ar("mx.helpline.test; dkim=pass header.d=mail.example.com").method == "dkim"
    assert ar("mx.helpline.test; dkim=pass header.i=@mail.example.com").method == "dkim"
    assert ar("mx.helpline.test 1; dkim=pass (good signature) header.i=alice@example.com").verified


def test_dkim_pass_for_another_domain_does_not_verify():
    result = ar(
        "mx.helpline.test; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example"
    )
    assert not result.verified
    assert "evil.example not aligned with From: example.com" in result.detail
    assert not ar("mx.helpline.test; dmarc=pass header.from=evil.example").verified
    assert not ar("mx.helpline.test; dkim=pass header.d=example.com.evil.example").verified
    assert not ar("mx.helpline.test; dkim=pass").verified  # no domain: nothing to align
    assert not ar("mx.helpline.test; dmarc=pass").verified


def test_dmarc_fail_does_not_verify():
    result = ar("mx.helpline.test; dmarc=fail header.from=example.com")
    assert not result.verified
    assert "DMARC failed for example.com" in result.detail
    # A failed DMARC verdict beats an aligned DKIM pass (the domain may demand strict alignment).
    assert not ar(
        "mx.helpline.test; dkim=pass header.d=mail.example.com; dmarc=fail header.from=example.com"
    ).verified


def test_fails_and_other_results_do_not_verify():
    for value in (
        "mx.helpline.test; dkim=fail header.d=example.com",
        "mx.helpline.test; dkim=neutral header.d=example.com",
        "mx.helpline.test; dmarc=temperror header.from=example.com",
        "mx.helpline.test; spf=pass smtp.mailfrom=example.com",
        "mx.helpline.test; arc=pass",
        "mx.helpline.test; none",
        "mx.helpline.test; dkim=pass header.d=example.com",  # but From: is someone else's
    ):
        address = "ceo@other.example" if "dkim=pass" in value else FROM
        result = ar(value, address=address)
        assert not result.verified, value


def test_malformed_authentication_results_are_ignored():
    for value in (
        "",
        ";;;",
        "mx.helpline.test",
        "mx.helpline.test; dkim",
        "mx.helpline.test; dkim=pass header.d=example.com; (unclosed",
        "mx.helpline.test; dkim=pass header.d=" + "(" * 5000,
        "mx.helpline.test 2; dmarc=pass header.from=example.com",  # unknown version
        "\x00\xff mx.helpline.test; dmarc=pass header.from=example.com",
        "mx.helpline.test; dmarc=pass header.from=example.com" + " " * 20000 + "x",
    ):
        assert not ar(value).verified, value


def test_malformed_topmost_trusted_header_is_not_skipped():
    result = ar(
        "mx.helpline.test; dkim=pass header.d=example.com; (broken",
        "mx.helpline.test; dmarc=pass header.from=example.com",
    )
    assert not result.verified
    assert "malformed" in result.detail


def test_forged_trusted_header_below_the_real_one_loses():
    forged = "mx.helpline.test; dmarc=pass header.from=example.com"
    real = "mx.helpline.test; dkim=none; spf=softfail smtp.mailfrom=example.com; dmarc=none"
    # Our MTA prepended `real`; the sender had written `forged` into the message beforehand.
    message = [
        ("Authentication-Results", real),
        ("Received", "from attacker.example by mx.helpline.test"),
        ("Authentication-Results", forged),
        ("From", "alice@example.com"),
    ]
    result = ar(headers=message)
    assert not result.verified
    assert "reported by mx.helpline.test" in result.detail
    # Even without a Received line between them, only the topmost trusted header counts.
    assert not ar(real, forged).verified
    assert ar(forged, real).verified
    # Untrusted headers above ours change nothing.
    assert not ar("other.example; dmarc=pass header.from=example.com", real, forged).verified
    assert ar("other.example; dmarc=fail header.from=example.com", forged, real).verified


def test_folded_and_commented_header_is_read():
    value = (
        "mx.helpline.test (Postfix+OpenDMARC);\r\n"
        "\tdkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com\r\n"
        '\theader.a=rsa-sha256 header.s=sel header.b="AbCdEf12";\r\n'
        "\tdmarc=pass (p=reject dis=none) header.from=example.com"
    )
    assert ar(value).method == "dmarc"


def test_missing_from_address_does_not_verify():
    for address in ("", "nobody", None, "a@", "<>"):
        result = ar("mx.helpline.test; dmarc=pass header.from=example.com", address=address)
        assert not result.verified


def test_hostile_header_lists_do_not_raise():
    for hostile in (
        None,
        [],
        [("Authentication-Results",)],
        [(1, 2)],
        ["xx"],
        [(b"Authentication-Results", b"\xff")],
    ):
        result = from_authentication_results(hostile, FROM, TRUSTED)
        assert isinstance(result, Authenticity) and not result.verified


# Property: hostile values never raise ------------------------------------------------------------

_names = st.sampled_from(
    ["Authentication-Results", "authentication-results", "Received", "From", "X-Other", ""]
)
_values = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda prefix, text: prefix + text,
        st.sampled_from(
            [
                "mx.helpline.test; ",
                "mx.helpline.test; dmarc=pass header.from=",
                "mx.helpline.test; dkim=pass header.d=",
                "mx.helpline.test (",
                "mx.helpline.test; dkim=",
            ]
        ),
        st.text(max_size=200),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_names, _values), max_size=6), st.text(max_size=80))
def test_arbitrary_header_values_never_raise(header_list, address):
    for from_address in (address, FROM):
        result = from_authentication_results(header_list, from_address, TRUSTED)
        assert isinstance(result, Authenticity)
        assert result.verified == bool(result.method)
        if result.verified:  # only a well-formed trusted pass for the From: domain can verify
            assert result.method in ("dmarc", "dkim")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"DKIM-Signature", b"ARC-Seal", b"ARC-Message-Signature", b"From", b"X"]),
    st.binary(max_size=300),
    st.text(max_size=60),
)
def test_arbitrary_signature_headers_never_raise(name, value, address):
    raw = name + b": " + value + b"\r\n" + signed()
    for from_address in (address, FROM):
        result = verify_dkim(raw, from_address, dnsfunc=dns, trusted_arc_sealers=[LIST])
        assert isinstance(result, Authenticity)
        assert result.verified == bool(result.method)
