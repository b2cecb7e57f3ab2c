"""Each replica of a scaled Compose service names itself from Docker's DNS (playground.replica)."""

from __future__ import annotations

import socket
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.resolver
import pytest

from playground import replica

# Docker's embedded DNS answering a PTR query for 172.22.0.5 (captured on a Compose network).
REPLY = (
    b"\x51\x57\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
    b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00\x00\x0c\x00\x01\x00\x00\x02X\x00E"
    b'"kafka-playground-cluster-ptrtest-3\x20kafka-playground-cluster_default\x00'
)


def docker_dns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reply: bytes | None) -> list[str]:
    """Inside a container at 172.22.0.5 on a Compose network, Docker's DNS answering `reply`
    (None: not answering). Returns the names asked about, and the servers asked."""
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.11\noptions ndots:0\n")
    monkeypatch.setattr(replica, "RESOLV_CONF", conf)
    monkeypatch.setattr(socket, "gethostbyname", lambda _: "172.22.0.5")
    asked: list[str] = []

    def resolve(self: dns.resolver.Resolver, qname: dns.name.Name, rdtype: str) -> object:
        asked.extend([str(qname), rdtype, *self.nameservers])  # type: ignore[list-item]
        if reply is None:
            raise dns.exception.Timeout
        return dns.message.from_wire(reply).answer[0]

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", resolve)
    return asked


def test_the_replica_number_comes_from_docker_s_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = docker_dns(monkeypatch, tmp_path, REPLY)
    assert replica.own_number() == 3
    assert asked == ["5.0.22.172.in-addr.arpa.", "PTR", "127.0.0.11"]


def test_no_answer_is_no_number(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docker_dns(monkeypatch, tmp_path, None)
    assert replica.own_number() is None


def test_outside_a_compose_network_nothing_is_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = docker_dns(monkeypatch, tmp_path, REPLY)
    (tmp_path / "resolv.conf").write_text("nameserver 10.0.0.2\n")
    assert replica.own_number() is None
    assert asked == []


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("kafka-playground-consumer-zulu-shared-1", 1),
        ("kafka-playground-consumer-zulu-shared-12", 12),
        ("kafka-playground-consumer-zulu-shared-run-0a1b2c3d4e5f", None),
        ("kafka-playground-consumer-zulu-shared-run-012345678901", None),
        ("my-consumer", None),
    ],
)
def test_the_replica_number_is_the_name_s_last_number(name: str, number: int | None) -> None:
    assert replica.number(name) == number


def test_the_first_replica_keeps_the_plain_name() -> None:
    assert replica.client_id("zulu", None) == "zulu"
    assert replica.client_id("zulu", 1) == "zulu"
    assert replica.client_id("zulu", 4) == "zulu-4"


def test_outside_docker_there_is_no_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.1\n")
    monkeypatch.setattr(replica, "RESOLV_CONF", resolv)
    assert replica.own_number() is None
