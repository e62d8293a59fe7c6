"""Is an inbound message's From: domain authenticated? Pure functions, never raise.

Two independent sources of evidence:

`from_authentication_results` reads the Authentication-Results headers (RFC 8601) that our own
receiving MTA wrote. Rules:

* Only headers whose authserv-id is in `trusted_authserv_ids` (case-insensitive) count; all others
  may have been written by the sender and are ignored.
* Only the *topmost* trusted header counts. Our MTA prepends its header, so anything below it
  was already in the message when it arrived and could be forged with our authserv-id (not every
  MTA strips look-alikes, RFC 8601 section 5). We cannot tell which Received lines are ours, so
  "topmost trusted header" is the rule. An MTA that splits its verdict over several headers
  (one per milter) has only the top one read: make the DMARC verdict the top one.
  If that header cannot be parsed, nothing below it is consulted either.
* Verified when that header says dmarc=pass with header.from aligned with the From: domain
  (method "dmarc"), or dkim=pass with header.d (or the domain of header.i) aligned (method
  "dkim"). Any dmarc=fail in it vetoes. A fail or a pass for an unaligned domain never verifies.

`verify_dkim` checks the signatures itself with dkimpy:

* The message must have exactly one From: header, with the same domain as `from_address`.
* A DKIM-Signature counts when its d= is aligned with the From: domain, its h= covers From,
  it has no l= (a length limit lets anyone append unsigned text) and it verifies (method "dkim").
  Unaligned signatures are not even checked: no DNS lookups for domains that cannot matter.
* ARC (RFC 8617, method "arc"): the chain must validate (cv=pass), *every* ARC-Seal must come
  from a sealer listed in `trusted_arc_sealers` (that domain or a subdomain), and the
  ARC-Authentication-Results of the first set (i=1) must show an aligned dkim=pass or dmarc=pass
  (and no dmarc=fail). Anyone can seal a chain with their own key and write "dkim=pass" in it,
  so a chain counts only when its sealers are trusted; the default trusts none.

Alignment is relaxed (DMARC, RFC 7489 section 3.1): same organisational domain, computed with the
Public Suffix List shipped inside `publicsuffixlist` (never downloaded).

DNS: `dnsfunc(name) -> bytes | None` receives the fully qualified key name as dkimpy builds it
(b"sel._domainkey.example.com.", trailing dot) and returns the TXT record, or None when there is
none. The default resolves with dnspython, DNS_TIMEOUT seconds per lookup and DNS_BUDGET seconds
for the whole message; any DNS error means "not verified", with the reason.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr

import authres
import dkim
from dkim.util import parse_tag_value
from publicsuffixlist import PublicSuffixList

logger = logging.getLogger(__name__)

DNS_TIMEOUT = 3.0  # seconds for one TXT lookup
DNS_BUDGET = 8.0  # seconds for all lookups made for one message
MAX_DKIM_SIGNATURES = 10  # aligned signatures checked per message; more is an attack
MAX_ARC_SETS = 50  # RFC 8617 section 4.2.1
MAX_HEADER_CHARS = 16_000  # a longer Authentication-Results header is not ours

DnsFunc = Callable[[bytes], bytes | None]


@dataclass(frozen=True)
class Authenticity:
    verified: bool  # True only for an aligned pass
    method: str  # "dmarc", "dkim", "arc" or "" when not verified
    detail: str  # a short human sentence: what verified, or why nothing did


def _no(detail: str) -> Authenticity:
    return Authenticity(False, "", _clip(detail, 400))


def _yes(method: str, detail: str) -> Authenticity:
    return Authenticity(True, method, _clip(detail, 400))


# Domains and alignment -------------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _clip(text: str, limit: int = 100) -> str:
    """Attacker-supplied text made safe for a log line or a page: printable ASCII, short."""
    text = _UNPRINTABLE.sub("?", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normalize_domain(domain: object) -> str:
    """Lower-case ASCII (punycode) domain without trailing dot, or "" if it is not a domain."""
    if isinstance(domain, bytes):
        domain = domain.decode("utf-8", "replace")
    if not isinstance(domain, str):
        return ""
    domain = domain.strip().rstrip(".").lower()
    if not domain or len(domain) > 253:
        return ""
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return ""
    return domain


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list file shipped in the package; no network


def org_domain(domain: str) -> str:
    """Organisational domain: mail.example.co.uk → example.co.uk. "" if not a domain.

    A public suffix (or an unknown single label) is its own organisational domain.
    """
    normalized = _normalize_domain(domain)
    if not normalized:
        return ""
    return _psl().privatesuffix(normalized) or normalized


def aligned(a: str, b: str) -> bool:
    """Relaxed alignment: both are domains with the same organisational domain."""
    org_a, org_b = org_domain(a), org_domain(b)
    return bool(org_a) and org_a == org_b


def _address_domain(address: object) -> str:
    """Domain of one address ("a@example.com" or "Name <a@example.com>"), or ""."""
    if isinstance(address, bytes):
        address = address.decode("utf-8", "replace")
    if not isinstance(address, str) or len(address) > 2000:
        return ""
    try:
        addr = parseaddr(_unfold(address))[1]
    except Exception:  # noqa: BLE001 - the email package on hostile text
        return ""
    if "@" not in addr:
        return ""
    return _normalize_domain(addr.rpartition("@")[2])


def _identity_domain(value: object) -> str:
    """Domain of a header.d ("example.com") or header.i ("@example.com", "a@example.com")."""
    if not isinstance(value, str):
        return ""
    return _normalize_domain(value.rpartition("@")[2])


def _unfold(value: str) -> str:
    return re.sub(r"[\r\n]+", " ", re.sub(r"\r?\n(?=[ \t])", "", value))


# Authentication-Results --------------------------------------------------------------------------

_AUTHSERV_ID = re.compile(r"\s*(?:\([^()]*\)\s*)*([^\s;()]+)")


def _parse_authentication_results(value: str):
    """authres header object, or None when the text is not a valid header value."""
    if len(value) > MAX_HEADER_CHARS:
        return None
    try:
        return authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value)
    except Exception:  # noqa: BLE001 - authres raises several types, RecursionError included
        return None


def _property(result, ptype: str, name: str) -> str:
    for prop in getattr(result, "properties", None) or ():
        if getattr(prop, "type", "") == ptype and getattr(prop, "name", "") == name:
            value = getattr(prop, "value", "")
            return value if isinstance(value, str) else ""
    return ""


@dataclass
class _Tally:
    """What _judge gathers from the results before it decides."""

    dmarc_domain: str = ""
    dkim_domain: str = ""
    unaligned: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def _judge(results, from_domain: str, reporter: str) -> Authenticity:
    """Verdict from parsed A-R results: aligned dmarc=pass, else aligned dkim=pass.

    Any dmarc=fail vetoes; a pass for an unaligned domain counts for nothing.
    """
    tally = _Tally()
    for result in results:
        method = str(getattr(result, "method", "") or "").lower()
        outcome = str(getattr(result, "result", "") or "").lower()
        if not method:
            continue
        tally.seen.append(f"{method}={outcome}")
        if method == "dmarc":
            veto = _tally_dmarc(tally, result, outcome, from_domain, reporter)
            if veto is not None:
                return veto
        elif method == "dkim" and outcome == "pass":
            _tally_dkim(tally, result, from_domain)
    return _verdict(tally, from_domain, reporter)


def _tally_dmarc(
    tally: _Tally, result, outcome: str, from_domain: str, reporter: str
) -> Authenticity | None:
    """Notes a dmarc result; a dmarc=fail is returned as the (vetoing) verdict."""
    header_from = _identity_domain(_property(result, "header", "from"))
    if outcome == "fail":
        return _no(f"DMARC failed for {header_from or from_domain} ({reporter})")
    if outcome == "pass" and header_from:
        if aligned(header_from, from_domain):
            tally.dmarc_domain = tally.dmarc_domain or header_from
        else:
            tally.unaligned.append(f"DMARC pass for {header_from}")
    return None


def _tally_dkim(tally: _Tally, result, from_domain: str) -> None:
    """Notes a dkim=pass: its signer (header.d, else header.i) aligned or not."""
    signer = _identity_domain(_property(result, "header", "d")) or _identity_domain(
        _property(result, "header", "i")
    )
    if signer and aligned(signer, from_domain):
        tally.dkim_domain = tally.dkim_domain or signer
    elif signer:
        tally.unaligned.append(f"DKIM signature of {signer}")


def _verdict(tally: _Tally, from_domain: str, reporter: str) -> Authenticity:
    """Aligned DMARC pass, else aligned DKIM pass, else why not."""
    alignment = f"aligned with From: {from_domain}; {reporter}"
    if tally.dmarc_domain:
        return _yes("dmarc", f"DMARC passed for {tally.dmarc_domain} ({alignment})")
    if tally.dkim_domain:
        return _yes("dkim", f"DKIM signature of {tally.dkim_domain} verified ({alignment})")
    if tally.unaligned:
        unaligned = ", ".join(tally.unaligned)
        return _no(f"{unaligned} not aligned with From: {from_domain} ({reporter})")
    summary = ", ".join(tally.seen[:8]) or "no results"
    return _no(f"No aligned DMARC or DKIM pass for From: {from_domain} ({reporter}: {summary})")


def from_authentication_results(
    headers: list[tuple[str, str]],
    from_address: str,
    trusted_authserv_ids: Sequence[str],
) -> Authenticity:
    """Verdict of our own MTA, read from its (topmost) Authentication-Results header."""
    try:
        return _from_authentication_results(headers, from_address, trusted_authserv_ids)
    except Exception:  # noqa: BLE001 - hostile input must never break mail intake
        logger.exception("Authentication-Results could not be evaluated")
        return _no("Authentication-Results could not be evaluated")


def _from_authentication_results(headers, from_address, trusted_authserv_ids) -> Authenticity:
    from_domain = _address_domain(from_address)
    if not from_domain:
        return _no("No domain in the From: address")
    if isinstance(trusted_authserv_ids, str):  # one id passed bare, not as a list of characters
        trusted_authserv_ids = [trusted_authserv_ids]
    trusted = {i.strip().lower() for i in trusted_authserv_ids or () if isinstance(i, str)}
    trusted.discard("")
    if not trusted:
        return _no("No trusted authserv-id configured")
    for item in headers or ():
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        if name.strip().lower() != "authentication-results":
            continue
        value = _unfold(value).strip()
        parsed = _parse_authentication_results(value)
        if parsed is not None:
            authserv_id = str(parsed.authserv_id or "").lower()
        else:
            match = _AUTHSERV_ID.match(value[:1000])
            authserv_id = match.group(1).lower() if match else ""
        if authserv_id not in trusted:
            continue  # somebody else's (or a forger's) header: ignored
        # The topmost trusted header decides; headers below it arrived with the message.
        if parsed is None:
            return _no(f"The Authentication-Results header of {_clip(authserv_id)} is malformed")
        return _judge(parsed.results, from_domain, f"reported by {_clip(authserv_id)}")
    return _no("No Authentication-Results header from a trusted server")


# DKIM and ARC --------------------------------------------------------------------------------


class _DemotedLogger(logging.LoggerAdapter):
    """dkimpy logs every bad signature as an error; for inbound mail that is routine."""

    def log(self, level, msg, *args, **kwargs):
        super().log(logging.DEBUG, msg, *args, **kwargs)


_dkim_logger = _DemotedLogger(logging.getLogger(__name__ + ".dkimpy"), {})


def _resolve_txt(name: bytes, lifetime: float) -> bytes | None:
    """The TXT record at `name` with dnspython; None when there is none. Raises on DNS failure."""
    import dns.resolver

    try:
        answer = dns.resolver.resolve(
            name.decode("ascii"),
            "TXT",
            lifetime=lifetime,
            search=False,
            raise_on_no_answer=False,
        )
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    records = [b"".join(rdata.strings) for rdata in answer] if answer.rrset else []
    for record in records:
        if b"p=" in record:
            return record
    return records[0] if records else None


class _Lookups:
    """The dnsfunc handed to dkimpy: caches, keeps to the time budget, remembers what went wrong.

    Every failure is re-raised as dkim.DnsTimeoutError, which dkimpy turns into "signature does
    not verify" instead of an exception.
    """

    def __init__(self, dnsfunc: DnsFunc | None):
        self.dnsfunc = dnsfunc
        self.deadline = time.monotonic() + DNS_BUDGET
        self.cache: dict[bytes, bytes | None] = {}
        self.problems: dict[bytes, str] = {}  # lookups that failed: raised again if repeated
        self.missing: dict[bytes, str] = {}  # names without a record: None again if repeated

    def __call__(self, name, timeout=None):
        name = bytes(name)
        key = name.lower().rstrip(b".")
        if key in self.problems:
            raise dkim.DnsTimeoutError(self.problems[key])
        if key in self.cache:
            return self.cache[key]
        label = _clip(key.decode("ascii", "replace"))
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError("time budget for DNS lookups used up")
            if self.dnsfunc is None:
                txt = _resolve_txt(name, min(DNS_TIMEOUT, remaining))
            else:
                txt = self.dnsfunc(name)
            if isinstance(txt, str):
                txt = txt.encode("utf-8", "replace")
            if txt is not None and not isinstance(txt, bytes):
                raise TypeError(f"dnsfunc returned {type(txt).__name__}")
        except Exception as exc:  # noqa: BLE001 - whatever the resolver raises
            why = _clip(str(exc) or type(exc).__name__, 80)
            self.problems[key] = f"DNS lookup of {label} failed ({why})"
            raise dkim.DnsTimeoutError(self.problems[key])
        if not txt:
            self.missing[key] = f"no key published at {label}"
            txt = None
        self.cache[key] = txt
        return txt

    def problem(self, selector: bytes, domain: bytes) -> str:
        key = selector.lower() + b"._domainkey." + domain.lower().rstrip(b".")
        return self.problems.get(key) or self.missing.get(key, "")


def verify_dkim(
    raw: bytes,
    from_address: str,
    dnsfunc: DnsFunc | None = None,
    *,
    trusted_arc_sealers: Sequence[str] = (),
) -> Authenticity:
    """Check the message's DKIM signatures (and ARC chain) against the From: domain ourselves."""
    lookups = _Lookups(dnsfunc)
    try:
        return _verify_dkim(raw, from_address, lookups, trusted_arc_sealers)
    except Exception as exc:  # noqa: BLE001 - hostile input must never break mail intake
        logger.warning("DKIM verification failed unexpectedly: %r", exc)
        return _no(f"Signatures could not be checked ({type(exc).__name__})")


def _tag_domain(tags: dict, tag: bytes) -> str:
    value = tags.get(tag, b"")
    return _normalize_domain(value.decode("ascii", "replace")) if isinstance(value, bytes) else ""


def _verify_dkim(raw, from_address, lookups: _Lookups, trusted_arc_sealers) -> Authenticity:
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        return _no("The message is not bytes")
    from_domain = _address_domain(from_address)
    if not from_domain:
        return _no("No domain in the From: address")
    try:
        message = dkim.DKIM(raw, logger=_dkim_logger, minkey=1024, timeout=DNS_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - MessageFormatError and whatever else
        return _no(f"The message header could not be read for DKIM ({_clip(str(exc), 80)})")

    from_values = [value for name, value in message.headers if name.lower() == b"from"]
    if len(from_values) != 1:
        return _no(f"The message has {len(from_values)} From: headers; exactly one is required")
    header_domain = _address_domain(from_values[0].decode("utf-8", "replace"))
    if header_domain != from_domain:
        return _no(
            f"The From: header ({_clip(header_domain) or 'no address'}) does not match "
            f"the sender address ({from_domain})"
        )

    reasons: list[str] = []
    signatures = [value for name, value in message.headers if name.lower() == b"dkim-signature"]
    checked = 0
    for index, value in enumerate(signatures):
        verdict = _check_signature(message, index, value, from_domain, lookups)
        if isinstance(verdict, Authenticity):
            return verdict
        reason, did_check = verdict
        reasons.append(reason)
        checked += did_check
        if checked >= MAX_DKIM_SIGNATURES:
            reasons.append("further signatures not checked")
            break
    if not signatures:
        reasons.append("No DKIM signature")

    arc = _check_arc(raw, message.headers, from_domain, lookups, trusted_arc_sealers)
    if isinstance(arc, Authenticity):
        return arc
    if arc:
        reasons.append(arc)
    return _no("; ".join(dict.fromkeys(reasons)))  # each distinct reason once, in order


def _check_signature(message, index, value, from_domain, lookups):
    """Authenticity if signature `index` verifies aligned, else (reason, whether it was checked)."""
    try:
        tags = parse_tag_value(re.sub(rb"\r?\n", b"", value))
    except Exception:  # noqa: BLE001 - InvalidTagValueList and friends
        return "a DKIM signature is malformed", False
    signer = _tag_domain(tags, b"d")
    if not signer:
        return "a DKIM signature has no valid d= domain", False
    if not aligned(signer, from_domain):
        return f"DKIM signature of {_clip(signer)} is not aligned with From: {from_domain}", False
    signed = [h.strip().lower() for h in tags.get(b"h", b"").split(b":")]
    if b"from" not in signed:
        return f"DKIM signature of {_clip(signer)} does not cover From:", False
    if b"l" in tags:
        return f"DKIM signature of {_clip(signer)} covers only part of the body (l=)", False
    try:
        ok = message.verify(idx=index, dnsfunc=lookups)
    except Exception as exc:  # noqa: BLE001 - DKIMException, and dkimpy's own bugs on odd input
        why = _clip(str(exc).split(" (")[0] or type(exc).__name__, 80)  # drop dkimpy's dumps
        return f"DKIM signature of {_clip(signer)} did not verify ({why})", True
    if ok:
        return Authenticity(
            True, "dkim", f"DKIM signature of {signer} verified (aligned with From: {from_domain})"
        )
    selector = tags.get(b"s", b"")
    problem = lookups.problem(selector, tags.get(b"d", b"")) if isinstance(selector, bytes) else ""
    return f"DKIM signature of {_clip(signer)} did not verify ({problem or 'bad signature'})", True


def _trusted_sealer(domain: str, trusted: set[str]) -> bool:
    return any(domain == t or domain.endswith("." + t) for t in trusted)


def _check_arc(raw, headers, from_domain, lookups, trusted_arc_sealers) -> Authenticity | str:
    """Authenticity when a trusted ARC chain vouches for an aligned pass, else a reason.

    The reason is "" when the message has no ARC chain at all.
    """
    seals = [value for name, value in headers if name.lower() == b"arc-seal"]
    if not seals:
        return ""
    if len(seals) > MAX_ARC_SETS:
        return "ARC chain too long"
    sealers = _arc_sealers(seals)
    if isinstance(sealers, str):
        return sealers
    untrusted = _untrusted_sealers(sealers, trusted_arc_sealers)
    if untrusted:
        return untrusted
    first = _first_arc_results(raw, lookups)
    if isinstance(first, str):
        return first
    return _arc_verdict(first, sealers, from_domain)


def _arc_sealers(seals: list[bytes]) -> list[str] | str:
    """The d= domain of each ARC-Seal, or the reason one has none."""
    sealers = []
    for value in seals:
        try:
            tags = parse_tag_value(re.sub(rb"\r?\n", b"", value))
        except Exception:  # noqa: BLE001
            return "an ARC-Seal is malformed"
        sealer = _tag_domain(tags, b"d")
        if not sealer:
            return "an ARC-Seal has no valid d= domain"
        sealers.append(sealer)
    return sealers


def _untrusted_sealers(sealers: list[str], trusted_arc_sealers) -> str:
    """The reason to ignore the chain when a sealer is not a trusted forwarder, else ""."""
    if isinstance(trusted_arc_sealers, str):
        trusted_arc_sealers = [trusted_arc_sealers]
    trusted = {_normalize_domain(t) for t in trusted_arc_sealers or ()} - {""}
    untrusted = [s for s in sealers if not _trusted_sealer(s, trusted)]
    if untrusted:
        names = _clip(", ".join(sorted(set(untrusted))))
        return f"ARC chain sealed by {names}, not a trusted forwarder"
    return ""


def _first_arc_results(raw, lookups) -> dict | str:
    """The first ARC set's results once the whole chain validates, else the reason."""
    try:
        cv, results, reason = dkim.arc_verify(
            raw, logger=_dkim_logger, dnsfunc=lookups, minkey=1024
        )
    except Exception as exc:  # noqa: BLE001 - dkimpy raises more than DKIMException on odd input
        return f"ARC chain could not be checked ({_clip(str(exc) or type(exc).__name__, 80)})"
    if cv != dkim.CV_Pass:
        why = [
            _clip(str(reason), 80),
            *sorted({*lookups.problems.values(), *lookups.missing.values()}),
        ]
        return f"ARC chain did not validate ({'; '.join(why)})"
    first = [r for r in results if r.get("instance") == 1]
    if len(first) != 1 or not isinstance(first[0].get("aar-value"), bytes):
        return "ARC chain has no first ARC-Authentication-Results"
    return first[0]


def _arc_verdict(first: dict, sealers: list[str], from_domain: str) -> Authenticity | str:
    """Judge the first ARC-Authentication-Results, as the first trusted forwarder recorded it."""
    aar = first["aar-value"].decode("utf-8", "replace")
    aar = re.sub(r"^\s*i\s*=\s*1\s*;", "", _unfold(aar), flags=re.IGNORECASE).strip()
    parsed = _parse_authentication_results(aar)
    if parsed is None:
        return "the first ARC-Authentication-Results is malformed"
    sealer = _clip(_normalize_domain(first.get("as-domain", b"")) or sealers[-1])
    verdict = _judge(parsed.results, from_domain, f"recorded by ARC sealer {sealer}")
    if not verdict.verified:
        return f"ARC chain validated, but {verdict.detail}"
    return _yes("arc", f"ARC chain validated: {verdict.detail}")
