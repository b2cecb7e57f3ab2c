"""What the host tools share: the containers and logs they read, waiting with a deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from playground import host
from playground.host import LogReader, MissingContainer, TimedOut, docker_time, wait_until


class FakeDocker:
    """The docker SDK's client, as far as the tools look before they run anything."""

    def __init__(self, *containers: Any) -> None:
        self.found = list(containers)
        self.containers = self

    def list(self, **filters: object) -> list[Any]:
        return self.found

    def close(self) -> None:
        pass


# ---- containers and their logs ----
def test_a_missing_service_container_is_named() -> None:
    with pytest.raises(MissingContainer, match="no kafka container in Compose project 'p'"):
        host.service_container(FakeDocker(), "p", "kafka")


def test_docker_time_stamps_keep_microseconds_in_utc() -> None:
    stamp = docker_time("2026-11-29T10:00:01.123456789Z")
    assert stamp == datetime(2026, 11, 29, 10, 0, 1, 123456, tzinfo=UTC)
    assert docker_time("2026-11-29T10:00:01Z") == datetime(2026, 11, 29, 10, 0, 1, tzinfo=UTC)


MIDNIGHT = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp())


class FakeLog:
    """A container's log as Docker serves it: stamped lines, `since` in whole seconds."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def write(self, second: int, text: str) -> None:
        self.lines.append((second, text))

    def logs(self, *, timestamps: bool, since: int, stdout: bool, stderr: bool) -> bytes:
        stamp = "2026-11-29T00:00:{:02d}.{:09d}Z"
        return "".join(
            f"{stamp.format(s, i)} {text}\n"
            for i, (s, text) in enumerate(self.lines)
            if MIDNIGHT + s >= since
        ).encode()


def test_the_log_reader_returns_each_line_once_across_reads_in_the_same_second() -> None:
    log = FakeLog()
    reader = LogReader(log, datetime(2026, 11, 29, tzinfo=UTC))
    log.write(1, "a")
    log.write(2, "b")
    assert reader.read() == ["a", "b"]
    log.write(2, "c")  # same second as the last line read: Docker serves "b" again
    log.write(3, "d")
    assert reader.read() == ["c", "d"]
    assert reader.read() == []


# ---- waiting ----
def test_wait_until_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "done"])
    assert wait_until(lambda: next(answers), 5, "an answer", every_s=0) == "done"


def test_wait_until_says_what_it_waited_for() -> None:
    with pytest.raises(TimedOut, match="timed out after 0 s waiting for Godot"):
        wait_until(lambda: None, 0, "Godot", every_s=0)
