"""Where webhooks may be sent: public addresses, plus the networks an administrator allows.

A webhook URL is chosen by a user, and the reply is kept in the delivery log, so without this check
a webhook could read the help desk's own neighbourhood: its loopback services, the private network,
a cloud's metadata service at 169.254.169.254. Checked twice:

- when the webhook is saved, without the network: a host that is an IP address in any spelling
  resolvers accept (`2130706433`, `0x7f.1`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) or a `localhost`
  name;
- at every delivery, after DNS: the host is resolved once (`resolve`, which tests replace), every
  address must be allowed, and the connection goes to those very addresses. A second lookup could
  answer differently (DNS rebinding), so there is none.

HELPLINE_WEBHOOK_ALLOWED_NETWORKS (CIDRs) opens networks that are not public, for an on-premise
receiver.
"""

import ipaddress
import re
import socket

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named explicitly rather than left to `is_global` alone: its tables change between Python versions
# and call multicast, site-local and IPv4-compatible IPv6 addresses global.
_REFUSED_NETWORKS = {
    "unspecified": ["0.0.0.0/32", "::/128"],
    "loopback": ["127.0.0.0/8", "::1/128"],
    "private": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    "link-local": ["169.254.0.0/16", "fe80::/10"],
    "carrier-grade NAT": ["100.64.0.0/10"],
    "multicast": ["224.0.0.0/4", "ff00::/8"],
    "reserved": ["0.0.0.0/8", "240.0.0.0/4", "::/8", "fec0::/10"],
}
_REFUSED = [
    (ipaddress.ip_network(network), kind)
    for kind, networks in _REFUSED_NETWORKS.items()
    for network in networks
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # The last 32 bits are the IPv4 address reached.
_NUMBER = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*", re.IGNORECASE)


class Refused(Exception):
    """A webhook target that is not allowed; the message says why, for the delivery log."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests replace this function; nothing else resolves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def allowed_networks() -> list[IPNetwork]:
    """HELPLINE_WEBHOOK_ALLOWED_NETWORKS, parsed."""
    networks = []
    for item in settings.HELPLINE_WEBHOOK_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"HELPLINE_WEBHOOK_ALLOWED_NETWORKS: “{item}” is not an IP network (CIDR)."
            ) from None
    return networks


def ip_literal(host: str) -> IPAddress | None:
    """`host` as an IP address if it spells one (also `127.1`, `0x7f.1`, `2130706433`), else None.

    Resolvers accept the old inet_aton spellings: one to four dot-separated parts in decimal,
    octal (leading 0) or hex (0x), the last part filling the remaining bytes.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMBER.fullmatch(p) for p in parts):
        return None
    values = [_number(p) for p in parts]
    last_limit = 256 ** (5 - len(values))
    if any(v > 255 for v in values[:-1]) or values[-1] >= last_limit:
        return None  # Not an address to any resolver; a lookup of it fails.
    value = 0
    for part in values[:-1]:
        value = value * 256 + part
    return ipaddress.IPv4Address(value * last_limit + values[-1])


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def _kind(ip: IPAddress) -> str | None:
    for network, kind in _REFUSED:
        if ip in network:
            return kind
    if not ip.is_global:
        return "non-public"
    return None


def refusal(ip: IPAddress, allowed: list[IPNetwork] | None = None) -> str | None:
    """Why webhooks may not go to `ip` (e.g. "a loopback address"), or None if they may."""
    allowed = allowed_networks() if allowed is None else allowed
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 on a dual-stack socket.
        if mapped is not None:
            reason = refusal(mapped, allowed)
            return f"{reason} (IPv4-mapped {mapped})" if reason else None
    if any(ip in network for network in allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        )
        if embedded is not None and refusal(embedded, []):
            return f"an IPv6 address embedding the {_kind(embedded)} address {embedded}"
    kind = _kind(ip)
    article = "an" if kind and kind[0] in "aeiou" else "a"
    return f"{article} {kind} address" if kind else None


def _localhost(host: str) -> bool:
    host = host.lower().removesuffix(".")
    return host == "localhost" or host.endswith(".localhost")  # RFC 6761: always loopback.


def host_refusal(host: str) -> str | None:
    """Why a webhook URL with this host is refused when saved (no DNS lookup), or None."""
    ip = ip_literal(host)
    if ip is None and _localhost(host):
        ip = ipaddress.IPv4Address("127.0.0.1")
    reason = refusal(ip) if ip is not None else None
    if reason is None:
        return None
    shown = host if str(ip) == host else f"{host} ({ip})"
    return f"{shown} is {reason}; webhooks are only sent to public addresses."


def vetted_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for `host`, each checked; raises Refused if any is not allowed.

    One lookup: the caller connects to these addresses and never resolves `host` again.
    """
    literal = ip_literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            found = [ipaddress.ip_address(address) for address in resolve(host, port)]
        except ValueError as exc:
            raise Refused(f"{host} resolves to something that is not an address ({exc}).")
    if not found:
        raise Refused(f"{host} resolves to no address.")
    allowed = allowed_networks()
    for ip in found:
        reason = refusal(ip, allowed)
        if reason:
            where = f"{host} is" if literal is not None else f"{host} resolves to {ip},"
            raise Refused(
                f"{where} {reason}; webhooks are only sent to public addresses "
                "(HELPLINE_WEBHOOK_ALLOWED_NETWORKS opens others)."
            )
    return list(dict.fromkeys(str(ip) for ip in found))
