"""Which addresses the pollers may connect to, enforced on every connection they open.

A feed decides which article links we follow, and a feed server decides where its redirects lead,
so a hostile or compromised one could point us at the poller's own network: a cloud metadata
endpoint (169.254.169.254), a database on 10.x, a local admin port. Every request the pollers make
(feeds, robots.txt, article pages, every redirect hop) therefore goes through one connection
layer (``guarded_transport``) that resolves the host itself, checks every address it resolves to
(a name with one public and one private address is refused) and connects to the checked address,
so a second DNS answer cannot swap in another address between the check and the connection (DNS
rebinding). A kept-alive connection is checked again before each request that reuses it.

What is allowed besides public addresses is the operator's choice, never a server's:

- ``allowed_endpoints``: exact ``host:port`` pairs, whatever they resolve to. A feed with
  ``allow_private: true`` in the feeds file adds its own URL's host:port for its requests (a redirect
  to any other non-public address is still refused); ``--serve DIR`` adds the one local server.
- ``allowed_networks``: CIDR blocks, e.g. a corporate network's own news servers.
- ``allow_private``: anything (tests and local demos only).

The same layer bounds time: a request runs under a ``guarded`` context with an overall deadline and
a stop event, and every socket read waits at most until the deadline, in slices short enough that
a stop is noticed at once. A server that trickles one byte a second cannot hold a request longer
than its deadline, and Ctrl-C does not wait for it.

With HTTP(S)_PROXY set, httpx sends requests through the proxy, which resolves names and connects
for us: the proxy's own egress rules apply then, not these.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

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


class AddressRefused(PageRefused):
    """The address policy refused a connection (skip PRIVATE_ADDRESS or UNRESOLVABLE). A PageRefused,
    so page fetches report it as their skip; feed fetches turn it into a PollError."""


class DeadlineExceeded(Exception):
    """The request's overall deadline passed while it was connecting, sending or reading."""


class Interrupted(Exception):
    """The request's stop event was set (the poller is shutting down)."""


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


def _endpoint(host: str, port: int) -> str:
    """host:port in one spelling: lowercase, IPv6 without brackets, IP literals normalised."""
    host = host.strip().strip("[]").lower()
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def url_endpoint(url: str | httpx.URL) -> str:
    """The host:port a URL connects to (the scheme's default port when none is given)."""
    u = httpx.URL(str(url))
    port = u.port or (443 if u.scheme == "https" else 80)
    return _endpoint(u.raw_host.decode("ascii"), port)  # as the connection layer sees it (IDNA)


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a request may connect to.

    ``allow_private``: any address (tests and local demos only). ``allowed_networks``: CIDR blocks
    allowed besides public addresses. ``allowed_endpoints``: ``host:port`` pairs allowed whatever
    they resolve to, matched on the host as the URL spells it (``127.0.0.1:8123`` does not allow
    ``localhost:8123``, nor ``127.0.0.1:8124``).
    """

    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()
    allowed_endpoints: tuple[str, ...] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        # Parsed once, so a bad entry fails at configuration time and not on every page.
        nets = tuple(ipaddress.ip_network(net, strict=False) for net in self.allowed_networks)
        object.__setattr__(self, "_networks", nets)
        endpoints = []
        for ep in self.allowed_endpoints:
            host, sep, port = ep.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"allowed endpoint {ep!r} must be host:port")
            endpoints.append(_endpoint(host, int(port)))
        object.__setattr__(self, "allowed_endpoints", tuple(endpoints))

    def allowing_endpoint(self, endpoint: str) -> AddressPolicy:
        """This policy plus one host:port (a feed's own server with ``allow_private``, or the local
        server of ``--serve``), and only it."""
        if endpoint in self.allowed_endpoints:
            return self
        return AddressPolicy(self.allow_private, self.allowed_networks, (*self.allowed_endpoints, endpoint))

    def allows(self, ip: IPAddress) -> bool:
        """Whether an address is allowed on its own (public, or in an allowed network)."""
        if self.allow_private or is_public_address(ip):
            return True
        return any(ip in net for net in self._networks)

    def allows_endpoint(self, host: str, port: int) -> bool:
        return _endpoint(host, port) in self.allowed_endpoints

    def addresses(self, host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
        """The addresses to connect to for host, all checked; raises AddressRefused otherwise."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = list(resolver(host, port))
            except (OSError, UnicodeError) as exc:
                raise AddressRefused(PageSkip.UNRESOLVABLE, f"{host}: {exc}") from exc
            if not found:
                raise AddressRefused(PageSkip.UNRESOLVABLE, f"{host}: no addresses")
        if self.allows_endpoint(host, port):
            return found
        refused = [a for a in found if not self.allows(ipaddress.ip_address(a))]
        if refused:
            where = (f"{host}:{port} is not a public address" if literal is not None
                     else f"{host}:{port} resolves to {', '.join(refused)}")
            raise AddressRefused(PageSkip.PRIVATE_ADDRESS, where)
        return found

    def permits(self, host: str, port: int, address: str) -> bool:
        """Whether a connection to host:port, open to ``address``, may carry a request."""
        return self.allows_endpoint(host, port) or self.allows(ipaddress.ip_address(address))


# --- the guarded connection layer ---------------------------------------------------------------

# Longest one socket wait lasts before the stop event is looked at again.
STOP_CHECK_S = 0.2


@dataclass(frozen=True)
class Guard:
    """What one request may do: where it may connect, until when (``deadline`` on ``clock``), and
    the event that stops it."""

    policy: AddressPolicy = AddressPolicy()
    deadline: float | None = None
    stop: threading.Event | None = None
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("the poller is stopping")
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceeded("the request's deadline passed")

    def clamp(self, timeout: float | None) -> float | None:
        """A timeout cut to the deadline (for operations that cannot be resumed after a timeout)."""
        left = self.remaining()
        if left is None:
            return timeout
        return max(0.001, left if timeout is None else min(left, timeout))

    def wait_slice(self, timeout: float | None) -> float | None:
        """How long one socket operation may wait: the caller's timeout, cut to the deadline, and
        to STOP_CHECK_S when there is a stop event to watch."""
        limits = [t for t in (timeout, self.remaining(), STOP_CHECK_S if self.stop is not None else None)
                  if t is not None]
        return max(0.001, min(limits)) if limits else None


_DEFAULT_GUARD = Guard()
_local = threading.local()


def current_guard() -> Guard:
    return getattr(_local, "guard", None) or _DEFAULT_GUARD


@contextmanager
def guarded(policy: AddressPolicy, *, deadline: float | None = None, stop: threading.Event | None = None,
            clock: Callable[[], float] = time.monotonic) -> Iterator[Guard]:
    """Run the requests of this thread under a policy, a deadline and a stop event. httpx's sync
    client does its network I/O in the calling thread, so a thread-local reaches it."""
    previous = getattr(_local, "guard", None)
    guard = _local.guard = Guard(policy, deadline, stop, clock)
    try:
        yield guard
    finally:
        _local.guard = previous


class _GuardedStream(httpcore.NetworkStream):
    """A connection to one checked address. Reads wait in slices (deadline, stop); every request
    sent on it is checked against the policy of the request, since connections are reused."""

    def __init__(self, inner: httpcore.NetworkStream, host: str, port: int, address: str) -> None:
        self._inner = inner
        self.host, self.port, self.address = host, port, address

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        guard = current_guard()
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            guard.check()
            wait = guard.wait_slice(None if give_up is None else give_up - time.monotonic())
            try:
                return self._inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                guard.check()
                if give_up is not None and time.monotonic() >= give_up:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        guard = current_guard()
        guard.check()
        if not guard.policy.permits(self.host, self.port, self.address):
            raise AddressRefused(PageSkip.PRIVATE_ADDRESS, f"{self.host} is at {self.address}")
        # Not sliced: a partial send cannot be repeated. A GET fits the socket buffer at once.
        self._inner.write(buffer, guard.clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        guard = current_guard()
        guard.check()
        inner = self._inner.start_tls(ssl_context, server_hostname, guard.clamp(timeout))
        return _GuardedStream(inner, self.host, self.port, self.address)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only where the current request's policy allows."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self._resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        guard = current_guard()
        guard.check()
        addresses = guard.policy.addresses(host, port, self._resolver)
        error: Exception | None = None
        for address in addresses:  # the next address only when one refuses the connection
            guard.check()
            try:
                inner = self._inner.connect_tcp(address, port, guard.clamp(timeout), local_address,
                                                socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _GuardedStream(inner, host, port, address)
        guard.check()
        assert error is not None
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise AddressRefused(PageSkip.NOT_HTTP, "unix sockets are not used by the pollers")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def guarded_transport(limits: httpx.Limits, *, resolver: Resolver = system_resolver) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through ``GuardedBackend``."""
    transport = httpx.HTTPTransport(limits=limits, trust_env=True)
    # httpx 0.28 takes no network backend, so its connection pool is replaced by one that has ours
    # (same settings; the replaced pool never opened a connection).
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001
        ssl_context=httpx.create_ssl_context(trust_env=True),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(resolver),
    )
    return transport
