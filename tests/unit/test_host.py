"""What the host tools share: the settings they see (environment, .env, kafka-client.env), the
containers and logs they read, waiting with a deadline."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner
from confluent_kafka import KafkaException

import bench.cli
import chaos.cli
import watch.cli
from bench.lab import Lab
from chaos.playground import PlaygroundError
from playground import host
from playground.cli import host_option
from playground.host import LogReader, MissingContainer, TimedOut, docker_time, wait_until
from playground.kafka import admin_config, consumer_config, producer_config

CLIENT_ENV = """\
# librdkafka settings for every client
KAFKA_CLIENT_SECURITY_PROTOCOL=SASL_SSL
KAFKA_CLIENT_SASL_MECHANISM="PLAIN"
KAFKA_CLIENT_SASL_USERNAME=alice

"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with no settings of its own, run from its root as `make` does."""
    for name in list(os.environ):
        if name.startswith("KAFKA_") or name in ("TOPIC", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- the broker a host tool asks by default ----
def test_the_default_broker_is_localhost_9092(repo: Path) -> None:
    assert host.bootstrap_servers() == "localhost:9092"


def test_kafka_host_port_in_dot_env_moves_the_default_broker(repo: Path) -> None:
    (repo / ".env").write_text("KAFKA_IMAGE=kafka:local\nKAFKA_HOST_PORT=19092\n")
    assert host.bootstrap_servers() == "localhost:19092"


def test_the_environment_wins_over_dot_env(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".env").write_text("KAFKA_HOST_PORT=19092\n")
    monkeypatch.setenv("KAFKA_HOST_PORT", "29092")
    assert host.bootstrap_servers() == "localhost:29092"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9093")
    assert host.bootstrap_servers() == "broker.example:9093"


def test_in_cluster_mode_the_default_is_all_three_brokers(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".env").write_text("COMPOSE_FILE=compose.yaml:compose.cluster.yaml\n")
    assert host.bootstrap_servers() == "localhost:9092,localhost:9093,localhost:9094"
    monkeypatch.setenv("KAFKA_HOST_PORT", "39092")
    monkeypatch.setenv("KAFKA_HOST_PORT_3", "39094")
    assert host.bootstrap_servers() == "localhost:39092,localhost:9093,localhost:39094"
    monkeypatch.setenv("COMPOSE_FILE", "compose.yaml")  # make's BROKERS=1 wins over .env
    assert host.bootstrap_servers() == "localhost:39092"


def test_host_options_default_to_what_compose_sees(repo: Path) -> None:
    @click.command()
    @host_option("KAFKA_BOOTSTRAP_SERVERS")
    @host_option("TOPIC")
    @host_option("COMPOSE_PROJECT_NAME")
    def show(bootstrap_servers: str, topic: str, project: str) -> None:
        click.echo(f"{bootstrap_servers} {topic} {project}")

    runner = CliRunner()
    assert runner.invoke(show).output == "localhost:9092 transactions kafka-playground\n"
    (repo / ".env").write_text("KAFKA_HOST_PORT=19092\nTOPIC=payments\nCOMPOSE_PROJECT_NAME=demo\n")
    assert runner.invoke(show).output == "localhost:19092 payments demo\n"
    given = runner.invoke(show, ["--topic", "t"], env={"KAFKA_BOOTSTRAP_SERVERS": "b:1"})
    assert given.output == "b:1 t demo\n"


# ---- the services' client settings, for the host tools' clients too ----
def test_kafka_client_env_reaches_every_config_builder(repo: Path) -> None:
    (repo / "kafka-client.env").write_text(CLIENT_ENV)
    kafka = host.kafka_settings("localhost:9092", "payments")
    assert kafka.dead_letter_topic == "payments.dlq"
    for config in (
        admin_config(kafka, "t"),
        consumer_config(kafka, "t", "g"),
        producer_config(kafka, "t"),
    ):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "PLAIN"  # quotes are Compose's, not the value's
        assert config["sasl.username"] == "alice"


def test_the_environment_wins_over_kafka_client_env(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "kafka-client.env").write_text(CLIENT_ENV)
    monkeypatch.setenv("KAFKA_CLIENT_SASL_USERNAME", "bob")
    monkeypatch.setenv("KAFKA_CLIENT_SSL_CA_LOCATION", "/ca.pem")
    config = host.kafka_settings("localhost:9092", "t").client_config
    assert config["sasl.username"] == "bob"
    assert config["ssl.ca.location"] == "/ca.pem"
    assert config["security.protocol"] == "SASL_SSL"


class CapturedAdmin:
    """Stands in for AdminClient: keeps the config, fails every request as no broker would."""

    configs: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.configs.append(config)

    def __getattr__(self, name: str) -> Any:
        def unreachable(*args: object, **kwargs: object) -> None:
            raise KafkaException("no broker in a unit test")

        return unreachable


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    CapturedAdmin.configs = []
    for module in (watch.cli, chaos.cli):
        monkeypatch.setattr(module, "Admin", CapturedAdmin)
    monkeypatch.setattr("bench.lab.AdminClient", CapturedAdmin)
    return CapturedAdmin.configs


def dressed(repo: Path) -> None:
    (repo / ".env").write_text("KAFKA_HOST_PORT=19092\n")
    (repo / "kafka-client.env").write_text(CLIENT_ENV)


def test_watch_connects_with_dot_env_and_kafka_client_env(
    repo: Path, captured: list[dict[str, Any]]
) -> None:
    dressed(repo)
    result = CliRunner().invoke(watch.cli.main, ["--once"])
    assert result.exit_code == 1
    assert "cannot read from Kafka at localhost:19092" in result.output
    [config] = captured
    assert config["bootstrap.servers"] == "localhost:19092"
    assert config["security.protocol"] == "SASL_SSL"


def test_watch_without_a_broker_says_so_in_one_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Silent(CapturedAdmin):
        def __getattr__(self, name: str) -> Any:
            def unanswered(*args: object, **kwargs: object) -> None:
                raise TimeoutError  # what a request's future raises when nobody answers

            return unanswered

    monkeypatch.setattr(watch.cli, "Admin", Silent)
    result = CliRunner().invoke(watch.cli.main, ["--once"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: cannot read from Kafka at localhost:9092: no answer within 10 s\n"
    )


class FakeDocker:
    """The docker SDK's client, as far as the tools look before they run anything."""

    def __init__(self, *containers: Any) -> None:
        self.found = list(containers)
        self.containers = self

    def list(self, **filters: object) -> list[Any]:
        return self.found

    def close(self) -> None:
        pass


def test_chaos_connects_with_dot_env_and_kafka_client_env(
    repo: Path, captured: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dressed(repo)

    class FirstLook:
        def __init__(self, playground: Any, say: object, on_check: object) -> None:
            self.pg = playground

        def run(self, count: int, interval_s: float, faults: str | None) -> None:
            assert self.pg.admin is not None  # the drills' first look at the broker
            raise PlaygroundError("stopped after the first look")

    monkeypatch.setattr("docker.from_env", FakeDocker)
    monkeypatch.setattr(chaos.cli, "Drills", FirstLook)
    result = CliRunner().invoke(chaos.cli.main)
    assert result.exit_code == 1, result.output
    [config] = captured
    assert config["bootstrap.servers"] == "localhost:19092"
    assert config["security.protocol"] == "SASL_SSL"


def test_bench_connects_with_dot_env_and_kafka_client_env(
    repo: Path, captured: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dressed(repo)
    labs: list[Lab] = []

    def lab(*args: Any) -> Lab:
        labs.append(Lab(*args))
        raise MissingContainer("stopped before measuring")

    monkeypatch.setattr("docker.from_env", lambda: FakeDocker(object()))
    monkeypatch.setattr(bench.cli, "Lab", lab)
    result = CliRunner().invoke(bench.cli.main)
    assert result.exit_code == 1, result.output
    assert labs[0].admin is not None
    [config] = captured
    assert config["bootstrap.servers"] == "localhost:19092"
    assert config["security.protocol"] == "SASL_SSL"


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
