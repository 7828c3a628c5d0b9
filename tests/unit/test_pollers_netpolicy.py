"""Which addresses the page fetcher may connect to."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from pollers import AddressPolicy, PageRefused, PageSkip, PollerSettings, is_public_address, url_endpoint
from pollers.netpolicy import system_resolver


@pytest.mark.parametrize("address", [
    "8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e",
])
def test_public_addresses(address):
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1",                          # loopback
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",  # private
    "169.254.169.254", "fe80::1",                               # link-local (cloud metadata lives here)
    "100.64.0.1",                                               # shared address space (carrier NAT)
    "0.0.0.0", "::",                                            # unspecified
    "224.0.0.1", "239.255.255.250", "ff02::1",                  # multicast
    "fc00::1", "fd12:3456::1", "fec0::1",                       # unique local, site-local
    "192.0.2.10", "198.51.100.7", "203.0.113.9", "2001:db8::1",  # documentation
    "198.18.0.1", "240.0.0.1", "255.255.255.255",               # benchmarking, reserved, broadcast
    "::ffff:127.0.0.1", "::ffff:10.0.0.1",                      # IPv4-mapped
    "2002:7f00:1::1", "2002:a00:1::1",                          # 6to4 of loopback / private
])
def test_non_public_addresses(address):
    assert not is_public_address(ipaddress.ip_address(address))


def resolver(table):
    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]
    return resolve


def test_every_address_of_a_name_must_be_public():
    # A name under the publisher's control can resolve to anything; one private address is enough to
    # refuse it. (The resolver is a table because the test machine has no public DNS.)
    names = resolver({"news.example": ["93.184.216.34", "2606:4700::6810:85e5"],
                      "split.example": ["93.184.216.34", "10.0.0.7"],
                      "meta.example": ["169.254.169.254"]})
    policy = AddressPolicy()
    assert policy.addresses("news.example", 443, names) == ["93.184.216.34", "2606:4700::6810:85e5"]
    for host in ("split.example", "meta.example"):
        with pytest.raises(PageRefused) as err:
            policy.addresses(host, 443, names)
        assert err.value.skip is PageSkip.PRIVATE_ADDRESS
    with pytest.raises(PageRefused) as err:
        policy.addresses("missing.example", 80, names)
    assert err.value.skip is PageSkip.UNRESOLVABLE


def test_literal_and_real_loopback_hosts_are_refused_without_the_flag():
    policy = AddressPolicy()
    for host in ("127.0.0.1", "[::1]", "::1", "localhost"):  # localhost goes through the real resolver
        with pytest.raises(PageRefused) as err:
            policy.addresses(host, 80)
        assert err.value.skip is PageSkip.PRIVATE_ADDRESS, host


def test_the_test_flag_and_allowed_networks():
    assert AddressPolicy(allow_private=True).addresses("127.0.0.1", 80) == ["127.0.0.1"]
    assert set(AddressPolicy(allow_private=True).addresses("localhost", 80)) <= {"127.0.0.1", "::1"}
    only_one = AddressPolicy(allowed_networks=("127.0.0.1/32",))
    assert only_one.addresses("127.0.0.1", 80) == ["127.0.0.1"]
    with pytest.raises(PageRefused):
        only_one.addresses("127.0.0.2", 80)
    with pytest.raises(ValueError):
        AddressPolicy(allowed_networks=("not a network",))


def test_system_resolver_returns_each_address_once():
    found = system_resolver("localhost", 80)
    assert found and len(found) == len(set(found))
    assert all(not is_public_address(ipaddress.ip_address(a)) for a in found)


def test_serving_locally_allows_exactly_that_host_and_port():
    settings = PollerSettings().allowing_server("http://127.0.0.1:8123/")
    policy = settings.addresses
    assert policy.addresses("127.0.0.1", 8123) == ["127.0.0.1"]
    # Another port of the same address, another spelling of it, other private addresses: refused.
    for host, port in (("127.0.0.1", 8124), ("127.0.0.1", 80), ("localhost", 8123), ("2130706433", 8123),
                       ("127.0.0.2", 8123), ("10.0.0.1", 8123), ("::1", 8123)):
        with pytest.raises(PageRefused) as err:
            policy.addresses(host, port)
        assert err.value.skip is PageSkip.PRIVATE_ADDRESS, (host, port)
    assert not PollerSettings().addresses.allow_private  # the default stays closed
    assert PollerSettings().addresses.allowed_endpoints == ()


def test_endpoints_are_matched_in_one_spelling():
    policy = AddressPolicy(allowed_endpoints=("[::1]:80", "Intranet.Example:8080"))
    assert policy.allows_endpoint("::1", 80) and policy.allows_endpoint("[0:0::1]", 80)
    assert policy.allows_endpoint("intranet.example", 8080) and not policy.allows_endpoint("intranet.example", 80)
    assert policy.allowing_endpoint(url_endpoint("http://intranet.example:8080/feed")) == policy
    assert url_endpoint("https://news.example/rss") == "news.example:443"
    assert url_endpoint("http://[::1]/rss") == "[::1]:80"
    with pytest.raises(ValueError):
        AddressPolicy(allowed_endpoints=("no-port",))


def test_an_allowed_endpoint_permits_its_connections_and_no_other():
    policy = AddressPolicy(allowed_endpoints=("127.0.0.1:8123",))
    assert policy.permits("127.0.0.1", 8123, "127.0.0.1")
    assert not policy.permits("127.0.0.1", 8124, "127.0.0.1")
    assert not policy.permits("localhost", 8123, "127.0.0.1")
    assert policy.permits("news.example", 443, "93.184.216.34")
