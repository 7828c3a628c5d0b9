"""One HTTP attempt at a feed: conditional GET, bounded body, manual redirects, one deadline.

httpx does the transport, but redirects and content decoding are handled here, because httpx reads
and decodes the whole body of every intermediate redirect and decompresses a chunk without an
output bound: either lets a hostile server make us allocate far more than the size limit.

httpx's timeouts are per socket operation: a server that sends one byte a second never trips them.
Every attempt therefore has an overall deadline (``HttpSettings.deadline``) covering connection,
headers, redirects and body, enforced by the connection layer of ``pollers.netpolicy``, which also
applies the address policy to every hop and gives up at once when the poller stops.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata

import httpx

from .errors import FailureKind, PollError, classify_status, parse_retry_after
from .netpolicy import (
    AddressPolicy,
    AddressRefused,
    DeadlineExceeded,
    Interrupted,
    PageSkip,
    guarded,
    guarded_transport,
)

def _version() -> str:
    try:
        return metadata.version("newswire")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def _user_agent() -> str:
    # Publishers ask crawlers for a way to reach whoever runs them: set NEWSWIRE_CONTACT to a URL
    # or mailbox of yours and it is sent with every request.
    contact = os.environ.get("NEWSWIRE_CONTACT", "").strip()
    return f"newswire/{_version()} (feed poller{'; +' + contact if contact else ''})"


DEFAULT_USER_AGENT = _user_agent()


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # A wire feed is tens to hundreds of kB; 10 MB leaves room for the largest real ones.
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    max_connections: int = 64
    # Seconds one attempt may take in all (connect, headers, redirects, body). 10 MB at a slow
    # 2 Mbit/s takes 40 s; a feed slower than this is failing, or trickling on purpose.
    deadline: float = 60.0

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_timeout, read=self.read_timeout,
                             write=self.read_timeout, pool=self.connect_timeout + self.read_timeout)

    def client(self) -> httpx.Client:
        """A client for many threads: httpx.Client is thread-safe and pools connections per host."""
        timeout = self.timeout()
        limits = httpx.Limits(max_connections=self.max_connections,
                              max_keepalive_connections=self.max_connections)
        return httpx.Client(
            timeout=timeout, limits=limits, follow_redirects=False, trust_env=True,
            transport=guarded_transport(limits),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate",
                     "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml, "
                               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"},
        )


@dataclass(frozen=True)
class Validators:
    """What the server gave us to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200-class or 304
    url: str  # after redirects
    body: bytes | None  # None for 304
    headers: dict[str, str] = field(default_factory=dict)  # lowercase names, for feedparser
    validators: Validators = Validators()

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _Inflater:
    """gzip/deflate decoder that never produces more than ``limit`` bytes in total."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.encoding = encoding
        wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15}[encoding]
        self._d = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes) -> bytes:
        try:
            out = self._d.decompress(chunk, self.limit - self.total + 1)
        except zlib.error as exc:
            # Some servers send raw deflate for "deflate"; retry once from the first byte.
            if self.encoding == "deflate" and not self._started:
                self._d = zlib.decompressobj(-15)
                self._started = True
                return self.feed(chunk)
            raise PollError(FailureKind.BAD_RESPONSE, f"corrupt {self.encoding} body: {exc}") from exc
        self._started = True
        self.total += len(out)
        if self.total > self.limit:
            raise PollError(FailureKind.TOO_LARGE,
                             f"body decompresses to more than {self.limit} bytes (limit)")
        return out

    def finish(self) -> bytes:
        if not self._d.eof:
            raise PollError(FailureKind.BAD_RESPONSE, f"truncated {self.encoding} body")
        return b""


def read_bounded(response: httpx.Response, limit: int, *, deadline: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> bytes:
    """The response body, decoded (gzip/deflate), never more than ``limit`` bytes before or after
    decoding; with a ``deadline`` (on ``clock``), reading stops with a timeout once it passes (a
    server trickling bytes would otherwise hold us for one read timeout per chunk)."""
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")
                 if e.strip() and e.strip().lower() != "identity"]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        raise PollError(FailureKind.UNSUPPORTED_ENCODING,
                         f"Content-Encoding {response.headers['content-encoding']!r}; we accept gzip, deflate")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PollError(FailureKind.TOO_LARGE, f"Content-Length {declared} is over the {limit}-byte limit")
    inflater = _Inflater(encodings[0], limit) if encodings else None
    parts: list[bytes] = []
    received = 0
    raw: Iterator[bytes] = response.iter_raw()
    for chunk in raw:
        if deadline is not None and clock() > deadline:
            raise PollError(FailureKind.TIMEOUT, "stopped reading: the time allowed for this request ran out")
        received += len(chunk)
        if received > limit:
            raise PollError(FailureKind.TOO_LARGE, f"body is over the {limit}-byte limit (stopped reading)")
        parts.append(inflater.feed(chunk) if inflater else chunk)
    if inflater:
        inflater.finish()
    return b"".join(parts)


def guard_error(exc: Exception, url: str, deadline_s: float) -> PollError:
    """The PollError for what the connection layer refused or cut short."""
    if isinstance(exc, DeadlineExceeded):
        return PollError(FailureKind.TIMEOUT, f"{url} did not answer in full within {deadline_s:g} s "
                                              "(the deadline of one attempt)")
    if isinstance(exc, Interrupted):
        return PollError(FailureKind.STOPPED, f"stopped while fetching {url}")
    assert isinstance(exc, AddressRefused)
    if exc.skip is PageSkip.UNRESOLVABLE:
        return PollError(FailureKind.CONNECTION, f"cannot resolve the host of {url}: {exc.detail}")
    return PollError(FailureKind.ADDRESS_REFUSED, f"refused to connect for {url}: {exc.detail} (a feed on "
                                                  "an internal server needs allow_private: true; its redirects "
                                                  "elsewhere into a private network are always refused)")


def transport_error(exc: httpx.HTTPError, url: str) -> PollError:
    if isinstance(exc, httpx.TimeoutException):
        return PollError(FailureKind.TIMEOUT, f"{type(exc).__name__} fetching {url}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return PollError(FailureKind.CLIENT_ERROR, f"unsupported URL scheme: {url}")
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)):
        return PollError(FailureKind.CONNECTION, f"{type(exc).__name__} fetching {url}: {exc}")
    return PollError(FailureKind.BAD_RESPONSE, f"{type(exc).__name__} fetching {url}: {exc}")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def fetch_once(client: httpx.Client, url: str, validators: Validators, settings: HttpSettings, *,
               policy: AddressPolicy | None = None, stop: threading.Event | None = None) -> FetchResult:
    """One conditional GET, following at most ``settings.max_redirects`` redirects, within
    ``settings.deadline`` seconds, connecting only where ``policy`` allows (default: public
    addresses only) and giving up as soon as ``stop`` is set.

    Returns a 2xx or 304 result; raises PollError (classified) for everything else.
    """
    deadline = time.monotonic() + settings.deadline
    at = [url]  # the hop in progress, for the message when the deadline or the policy cuts it short
    try:
        with guarded(policy or AddressPolicy(), deadline=deadline, stop=stop):
            return _follow(client, url, validators, settings, deadline, at)
    except (DeadlineExceeded, Interrupted, AddressRefused) as exc:
        raise guard_error(exc, at[0], settings.deadline) from exc


def _follow(client: httpx.Client, url: str, validators: Validators, settings: HttpSettings,
            deadline: float, at: list[str]) -> FetchResult:
    request = client.build_request("GET", url, headers=validators.request_headers(),
                                   timeout=settings.timeout())
    current = url
    for _hop in range(settings.max_redirects + 1):
        at[0] = current
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise transport_error(exc, current) from exc
        try:
            if response.next_request is not None:  # a redirect; its body is never read
                request = response.next_request
                current = str(request.url)
                continue
            status = response.status_code
            kind = classify_status(status)
            if kind is not None:
                raise PollError(kind, f"HTTP {status} from {current}", status=status,
                                 retry_after=parse_retry_after(response.headers.get("retry-after")))
            headers = _headers(response)
            new = Validators(etag=headers.get("etag"), last_modified=headers.get("last-modified"))
            if status == 304:
                # A 304 may omit validators; the ones we sent are still current then.
                keep = Validators(etag=new.etag or validators.etag,
                                  last_modified=new.last_modified or validators.last_modified)
                return FetchResult(status=304, url=current, body=None, headers=headers, validators=keep)
            try:
                body = read_bounded(response, settings.max_body_bytes, deadline=deadline)
            except httpx.HTTPError as exc:
                raise transport_error(exc, current) from exc
            return FetchResult(status=status, url=current, body=body, headers=headers, validators=new)
        finally:
            response.close()
    raise PollError(FailureKind.TOO_MANY_REDIRECTS,
                     f"more than {settings.max_redirects} redirects starting at {url}")


def headers_for_parser(headers: Mapping[str, str], url: str) -> dict[str, str]:
    """Response headers as feedparser wants them: content-type decides the charset, and
    content-location makes relative links absolute. Content-Encoding is dropped because the body
    was already decoded."""
    out = {k: v for k, v in headers.items() if k not in ("content-encoding", "content-length")}
    out.setdefault("content-location", url)
    return out
