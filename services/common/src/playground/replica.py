"""Which replica of its Compose service a container is, so that each gets a client id of its own.

`docker compose up --scale consumer-zulu-shared=4` starts four containers with one environment
(CLIENT=zulu). Compose numbers them in their names (<project>-<service>-<n>), which only Docker
knows: inside, the host name is the container id. Docker's embedded DNS server answers a reverse
lookup of the container's address with that name, so the consumer asks it (with dnspython: the C
resolver would read /etc/hosts first, which maps the address back to the container id).

Replica 1 keeps its plain name (bravo, zulu); replica n is <client>-<n> (zulu-2, zulu-3, ...).
Outside a Compose network nothing answers and the name stays as it is.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import dns.exception
import dns.resolver
import dns.reversename

DOCKER_DNS = "127.0.0.11"  # Docker's embedded DNS, on user-defined networks
RESOLV_CONF = Path("/etc/resolv.conf")
TIMEOUT_S = 1.0


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
        if DOCKER_DNS not in RESOLV_CONF.read_text():
            return None
        address = socket.gethostbyname(socket.gethostname())
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [DOCKER_DNS]
        resolver.lifetime = TIMEOUT_S
        answer = resolver.resolve(dns.reversename.from_address(address), "PTR")
    except (OSError, dns.exception.DNSException):
        return None
    # <container name>.<network name>.
    return number(answer[0].target.labels[0].decode())
