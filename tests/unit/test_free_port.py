"""Ports handed to processes that bind them later come from below the kernel's ephemeral range (an outgoing
connection's source port can take a port from that range before its listener binds it), are free when handed out,
and are never handed out twice in one process."""

import socket
from pathlib import Path

from workforce.local.nats_server import free_port


def test_free_ports_are_below_the_ephemeral_range_bindable_and_distinct():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < low for p in ports), (min(ports), max(ports), low)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))   # still free
