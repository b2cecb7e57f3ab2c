"""Each replica of a scaled Compose service names itself from Docker's DNS (playground.replica)."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground import replica

# Docker's embedded DNS answering a PTR query for 172.22.0.5 (captured on a Compose network).
REPLY = (
    b"\x51\x57\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
    b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00\x00\x0c\x00\x01\x00\x00\x02X\x00E"
    b'"kafka-playground-cluster-ptrtest-3\x20kafka-playground-cluster_default\x00'
)


def test_the_query_asks_for_the_reversed_address() -> None:
    query = replica.ptr_query("172.22.0.5")
    assert query[12:] == b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
    assert query[4:6] == b"\x00\x01"  # one question


def test_the_answer_is_the_container_name() -> None:
    assert replica.ptr_answer(REPLY) == (
        "kafka-playground-cluster-ptrtest-3.kafka-playground-cluster_default"
    )


def test_compressed_answer_names_are_followed() -> None:
    # The answer's name as a pointer to the question's, its data "a-2" then a pointer to "arpa".
    question = b"\x015\x010\x0222\x03172\x07in-addr\x04arpa\x00"
    header = b"\x51\x57\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    arpa = 12 + question.index(b"\x04arpa")
    answer = b"\xc0\x0c\x00\x0c\x00\x01\x00\x00\x02X\x00\x06\x03a-2\xc0" + bytes([arpa])
    assert replica.ptr_answer(header + question + b"\x00\x0c\x00\x01" + answer) == "a-2.arpa"


def test_no_answer_is_none() -> None:
    assert replica.ptr_answer(b"\x51\x57\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00") is None


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
