"""Which replica of its Compose service a container is, so that each gets a client id of its own.

`docker compose up --scale consumer-zulu-shared=4` starts four containers with one environment
(CLIENT=zulu). Compose numbers them in their names (<project>-<service>-<n>), which only Docker
knows: inside, the host name is the container id. Docker's embedded DNS server answers a reverse
lookup of the container's address with that name, so the consumer asks it. The C resolver would
read /etc/hosts first, which maps the address back to the container id: hence the query by hand.

Replica 1 keeps its plain name (bravo, zulu); replica n is <client>-<n> (zulu-2, zulu-3, ...).
Outside a Compose network nothing answers and the name stays as it is.
"""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

DOCKER_DNS = ("127.0.0.11", 53)  # Docker's embedded DNS, on user-defined networks
RESOLV_CONF = Path("/etc/resolv.conf")
TIMEOUT_S = 1.0
PTR, IN = 12, 1


def client_id(client: str, number: int | None) -> str:
    """The client id of replica `number` of a service whose CLIENT is `client`."""
    return client if number is None or number == 1 else f"{client}-{number}"


def number(container_name: str) -> int | None:
    """The replica number in a Compose container name; None for a `docker compose run` one."""
    if "-run-" in container_name:
        return None
    found = re.search(r"-(\d+)$", container_name)
    return int(found.group(1)) if found else None


def own_number() -> int | None:
    """This container's replica number, from Docker's DNS; None outside a Compose network."""
    try:
        if DOCKER_DNS[0] not in RESOLV_CONF.read_text():
            return None
        address = socket.gethostbyname(socket.gethostname())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(TIMEOUT_S)
            udp.sendto(ptr_query(address), DOCKER_DNS)
            name = ptr_answer(udp.recv(512))
    except (OSError, ValueError, IndexError, struct.error):
        return None
    return number(name.split(".")[0]) if name else None


def ptr_query(address: str) -> bytes:
    """A DNS query (RFC 1035) for the PTR record of an IPv4 address."""
    name = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    header = struct.pack(">HHHHHH", 0x5157, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    return header + _labels(name) + struct.pack(">HH", PTR, IN)


def ptr_answer(reply: bytes) -> str | None:
    """The name in the first answer of a reply to ptr_query; None if it has none."""
    answers = struct.unpack(">H", reply[6:8])[0]
    if not answers:
        return None
    _, at = _name(reply, 12)  # the question's name
    _, at = _name(reply, at + 4)  # its type and class; then the answer's name
    at += 10  # the answer's type, class, TTL and data length
    return _name(reply, at)[0]


def _labels(name: str) -> bytes:
    return b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"


def _name(data: bytes, at: int) -> tuple[str, int]:
    """The name at `at` (following compression pointers) and where what follows it starts."""
    parts: list[str] = []
    while (length := data[at]) != 0:
        if length & 0xC0 == 0xC0:  # a pointer to the rest of the name
            rest, _ = _name(data, ((length & 0x3F) << 8) | data[at + 1])
            return ".".join([*parts, rest]), at + 2
        parts.append(data[at + 1 : at + 1 + length].decode())
        at += 1 + length
    return ".".join(parts), at + 1
