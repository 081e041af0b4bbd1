"""The network guard: which addresses are refused, the allowlist, resolution of names."""

import ipaddress

import pytest
from workforce.workers.netguard import BlockedAddress, NetGuard, block_reason, parse_allowlist


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.1.1", "non-global"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_blocked_addresses(address, reason):
    assert reason in block_reason(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert block_reason(ipaddress.ip_address(address)) is None


def test_allowlist_forms():
    rules = parse_allowlist("127.0.0.1:8080, 10.1.0.0/16 [::1]:9000 intranet.local:443 wiki.corp 192.168.5.5")
    guard = NetGuard(rules)
    ip = ipaddress.ip_address
    assert guard.allowed("127.0.0.1", 8080, ip("127.0.0.1"))
    assert not guard.allowed("127.0.0.1", 8081, ip("127.0.0.1"))
    assert guard.allowed("x", 1, ip("10.1.200.3")) and not guard.allowed("x", 1, ip("10.2.0.1"))
    assert guard.allowed("::1", 9000, ip("::1")) and not guard.allowed("::1", 9001, ip("::1"))
    assert guard.allowed("intranet.local", 443, ip("10.9.9.9")) and not guard.allowed(
        "intranet.local", 80, ip("10.9.9.9")
    )
    assert guard.allowed("WIKI.corp", 8443, ip("172.16.0.1"))
    assert guard.allowed("anything", 22, ip("192.168.5.5")) and not guard.allowed(
        "anything", 22, ip("192.168.5.6")
    )


def test_bad_allowlist_entry_is_a_clear_error():
    with pytest.raises(ValueError, match="WF_WEB_NET_ALLOWLIST.*'10.0.0.0/99'"):
        parse_allowlist("10.0.0.0/99")


async def test_resolution_is_checked():
    guard = NetGuard()
    with pytest.raises(BlockedAddress, match="localhost.*loopback"):
        await guard.check_url("http://localhost:8080/")  # a name that resolves to a loopback address
    with pytest.raises(BlockedAddress, match="169.254.169.254 is a cloud metadata address"):
        await guard.check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedAddress, match="only http and https"):
        await guard.check_url("file:///etc/passwd")
    with pytest.raises(BlockedAddress, match="only http and https"):
        await guard.check_url("gopher://example.com/")
    with pytest.raises(BlockedAddress, match="loopback"):
        await guard.check_url("http://[::ffff:7f00:1]:80/")
    with pytest.raises(BlockedAddress, match="loopback"):
        await guard.check_url("http://2130706433/")  # 127.0.0.1 written as one number


async def test_allowlisted_host_and_port_pass_and_nothing_else():
    guard = NetGuard("localhost:8080, 127.0.0.1:9090")
    assert await guard.check_url("http://localhost:8080/x")
    assert await guard.check_url("http://127.0.0.1:9090/")
    with pytest.raises(BlockedAddress):
        await guard.check_url("http://localhost:8081/")
    with pytest.raises(BlockedAddress):
        await guard.check_url("http://127.0.0.1:9091/")


async def test_refusals_are_counted_by_reason():
    from prometheus_client import REGISTRY

    def count(reason):
        return REGISTRY.get_sample_value("workforce_web_guard_refusals_total", {"reason": reason}) or 0

    before = count("metadata"), count("scheme")
    for url in ("http://169.254.169.254/", "ftp://example.com/"):
        with pytest.raises(BlockedAddress):
            await NetGuard().check_url(url)
    assert (count("metadata"), count("scheme")) == (before[0] + 1, before[1] + 1)
