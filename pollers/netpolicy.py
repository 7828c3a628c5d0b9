"""Which URLs and addresses the page fetcher may connect to.

A feed decides which article links we follow, so a hostile or compromised feed could point us at
the poller's own network: a cloud metadata endpoint (169.254.169.254), a database on 10.x, a local
admin port. Page fetches therefore go only to http/https URLs whose host resolves to public
addresses, every address of it (a name with one public and one private address is refused), at
every redirect hop. The request is then sent to the checked address itself, with the original Host
header and TLS server name, so a second DNS answer cannot swap in another address between the check
and the connection (DNS rebinding).

Tests and local demos serve pages from 127.0.0.1: ``AddressPolicy(allow_private=True)`` (or a list of
extra allowed networks) lets them through; nothing else does.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class PageSkip(enum.Enum):
    """Why an article page was not fetched, besides HTTP and transport failures (those reuse
    ``pollers.errors.FailureKind``). Each member carries its slug and the reason it exists."""

    def __init__(self, slug: str, reason: str) -> None:
        self.slug = slug
        self.reason = reason

    NO_LINK = ("no-link", "the entry has no link to fetch")
    NOT_HTTP = ("not-http", "only http and https pages are fetched (no file:, ftp:, data: …)")
    PRIVATE_ADDRESS = ("private-address", "the host resolves to a private, loopback, link-local or otherwise "
                       "non-public address; fetching it could reach the poller's own network")
    UNRESOLVABLE = ("unresolvable", "the host name does not resolve")
    ROBOTS = ("robots-disallowed", "the site's robots.txt disallows the page for our user agent, or "
              "robots.txt could not be read (a server error or timeout counts as disallow for now)")
    NOT_HTML = ("not-html", "the response is not an HTML page (PDF, image, JSON …, or empty)")
    BUDGET = ("budget", "the poll's time for pages was used up (the host's rate limit or slow responses)")
    STOPPING = ("stopping", "the poller is shutting down; the item is published without its page")

    def __str__(self) -> str:
        return self.slug


class PageRefused(Exception):
    """A page was not fetched for a policy reason (PageSkip)."""

    def __init__(self, skip: PageSkip, detail: str) -> None:
        super().__init__(f"{skip.slug}: {detail}")
        self.skip = skip
        self.detail = detail


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo), which is where it leads."""
    out = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    return out


def is_public_address(ip: IPAddress) -> bool:
    """True for a globally routable unicast address.

    ``is_global`` excludes private, loopback, link-local, shared (100.64/10), documentation,
    benchmarking and reserved ranges; multicast and IPv6 site-local are excluded on top, and an IPv6
    address that embeds an IPv4 one (::ffff:a.b.c.d, 6to4, Teredo) must embed a public one.
    """
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return not ip.is_site_local and all(is_public_address(v4) for v4 in _embedded_v4(ip))
    return True


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in out:
            out.append(addr)
    return out


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a page fetch may connect to.

    ``allow_private``: any address (tests and local demos only). ``allowed_networks``: CIDR blocks
    allowed besides public addresses, e.g. ("127.0.0.1/32",) for a test server, or a corporate
    network's own news servers.
    """

    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        # Parsed once, so a bad entry fails at configuration time and not on every page.
        nets = tuple(ipaddress.ip_network(net, strict=False) for net in self.allowed_networks)
        object.__setattr__(self, "_networks", nets)

    def also_allowing(self, address: str) -> AddressPolicy:
        """This policy plus one address (the local server of ``--serve``, and only it)."""
        ip = ipaddress.ip_address(address.strip("[]"))
        return AddressPolicy(self.allow_private, (*self.allowed_networks, f"{ip}/{ip.max_prefixlen}"))

    def allows(self, ip: IPAddress) -> bool:
        if self.allow_private or is_public_address(ip):
            return True
        return any(ip in net for net in self._networks)

    def addresses(self, host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
        """The addresses to connect to for host, all checked; raises PageRefused otherwise."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = list(resolver(host, port))
            except (socket.gaierror, UnicodeError) as exc:
                raise PageRefused(PageSkip.UNRESOLVABLE, f"{host}: {exc}") from exc
            if not found:
                raise PageRefused(PageSkip.UNRESOLVABLE, f"{host}: no addresses")
        refused = [a for a in found if not self.allows(ipaddress.ip_address(a))]
        if refused:
            raise PageRefused(PageSkip.PRIVATE_ADDRESS, f"{host} resolves to {', '.join(refused)}")
        return found
