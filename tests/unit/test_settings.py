"""Settings: defaults, overrides, and one clear line per bad value, all reported at once."""

from __future__ import annotations

import os

import pytest

from consumer import settings as consumer_settings
from playground.settings import SettingsError, load
from producer import settings as producer_settings
from provision import settings as provision_settings

OURS = (
    *("KAFKA_", "BATCH_", "PRODUCER_", "TOPIC", "LOG_", "PIPELINE", "CLIENT", "GROUP_"),
    *("ASSIGN", "SESSION_", "MAX_", "DLQ_", "PROCESSING_", "WRITE_"),
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(OURS):
            monkeypatch.delenv(name)


def problems(read: object, **env: str) -> list[str]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with pytest.raises(SettingsError) as caught:
            load(read)  # type: ignore[arg-type]
    return caught.value.problems


def test_consumer_defaults_give_the_fanout_groups() -> None:
    s = load(consumer_settings.read)
    assert (s.client, s.group_id) == ("bravo", "test_group_bravo")
    assert (s.batch_size, s.batch_max_wait_s) == (3, 5.0)
    assert s.pipeline == ("validate", "enrich", "score", "log")
    assert (s.kafka.bootstrap_servers, s.kafka.topic) == ("localhost:9092", "transactions")
    assert (s.log.format, s.log.level) == ("text", "INFO")


def test_group_follows_the_client_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT", "zulu")
    assert load(consumer_settings.read).group_id == "test_group_zulu"
    monkeypatch.setenv("GROUP_ID", "analytics")
    assert load(consumer_settings.read).group_id == "analytics"


def test_cli_overrides_win_and_leave_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "7")
    s = load(consumer_settings.read, {"BATCH_SIZE": 50, "CLIENT": None})
    assert (s.batch_size, s.client) == (50, "bravo")
    assert os.environ["BATCH_SIZE"] == "7"


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCER_COUNT", "")
    monkeypatch.setenv("PRODUCER_INTERVAL_S", "")
    s = load(producer_settings.read)
    assert (s.count, s.interval_s, s.seed) == (None, 2.0, None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BATCH_SIZE", "0", "BATCH_SIZE='0': must be 1 or more"),
        ("BATCH_SIZE", "ten", "BATCH_SIZE='ten': Not a valid integer."),
        ("BATCH_MAX_WAIT_S", "0", "BATCH_MAX_WAIT_S='0': must be more than 0"),
        ("CLIENT", "Bravo!", "CLIENT='Bravo!': must be lower-case letters, digits"),
        (
            "PIPELINE",
            "validate,teleport",
            "PIPELINE='validate,teleport': unknown step(s): teleport",
        ),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml': must be one of: text, json"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD': must be one of: DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_each_bad_consumer_setting_is_named_with_its_value(
    name: str, value: str, message: str
) -> None:
    [problem] = problems(consumer_settings.read, **{name: value})
    assert problem.startswith(message)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PRODUCER_INTERVAL_S", "-1", "PRODUCER_INTERVAL_S='-1': must be 0 or more"),
        ("PRODUCER_COUNT", "0", "PRODUCER_COUNT='0': must be 1 or more"),
        ("PRODUCER_SEED", "x", "PRODUCER_SEED='x': Not a valid integer."),
    ],
)
def test_each_bad_producer_setting_is_named_with_its_value(
    name: str, value: str, message: str
) -> None:
    assert problems(producer_settings.read, **{name: value}) == [message]


def test_each_bad_provision_setting_is_named_with_its_value() -> None:
    assert problems(
        provision_settings.read, TOPIC_PARTITIONS="0", TOPIC_REPLICATION_FACTOR="-2"
    ) == [
        "TOPIC_PARTITIONS='0': must be 1 or more",
        "TOPIC_REPLICATION_FACTOR='-2': must be 1 or more",
    ]


def test_every_error_is_reported_at_once() -> None:
    found = problems(
        consumer_settings.read, BATCH_SIZE="0", BATCH_MAX_WAIT_S="-1", LOG_FORMAT="xml"
    )
    assert [p.split("=")[0] for p in found] == ["BATCH_MAX_WAIT_S", "BATCH_SIZE", "LOG_FORMAT"]


def test_librdkafka_settings_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CLIENT_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_CLIENT_SASL_MECHANISM", "PLAIN")
    s = load(producer_settings.read)
    assert s.kafka.client_config == {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}


def test_the_classic_protocol_with_range_is_the_default() -> None:
    s = load(consumer_settings.read)
    assert (s.group_protocol, s.assignment_strategy, s.group_instance_id) == (
        "classic",
        "range",
        None,
    )


def test_the_consumer_protocol_leaves_assignment_to_the_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GROUP_PROTOCOL", "consumer")
    s = load(consumer_settings.read)
    assert (s.group_protocol, s.assignment_strategy) == ("consumer", None)


def test_static_membership_and_cooperative_assignment_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSIGNMENT_STRATEGY", "cooperative-sticky")
    monkeypatch.setenv("GROUP_INSTANCE_ID", "bravo-1")
    s = load(consumer_settings.read)
    assert (s.assignment_strategy, s.group_instance_id) == ("cooperative-sticky", "bravo-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GROUP_PROTOCOL": "eager"}, "GROUP_PROTOCOL='eager': must be one of: classic, consumer"),
        (
            {"ASSIGNMENT_STRATEGY": "sticky"},
            "ASSIGNMENT_STRATEGY='sticky': must be one of: range, roundrobin, cooperative-sticky",
        ),
        (
            {"GROUP_PROTOCOL": "consumer", "ASSIGNMENT_STRATEGY": "range"},
            "ASSIGNMENT_STRATEGY='range': applies to GROUP_PROTOCOL=classic only",
        ),
        (
            {"GROUP_PROTOCOL": "consumer", "SESSION_TIMEOUT_MS": "6000"},
            "SESSION_TIMEOUT_MS='6000': applies to GROUP_PROTOCOL=classic only",
        ),
        ({"MAX_POLL_INTERVAL_MS": "0"}, "MAX_POLL_INTERVAL_MS='0': must be 1 or more"),
        (
            {"GROUP_TYPE": "share", "PROCESSING_GUARANTEE": "exactly-once"},
            "PROCESSING_GUARANTEE='exactly-once': a share group has no offsets to put in a "
            "transaction",
        ),
        (
            {"PROCESSING_GUARANTEE": "exactly-once", "WRITE_OUTPUT": "false"},
            "WRITE_OUTPUT='false': exactly-once writes its results in the batch's transaction",
        ),
        ({"WRITE_OUTPUT": "maybe"}, "WRITE_OUTPUT='maybe': Not a valid boolean."),
    ],
)
def test_bad_group_settings_say_what_is_allowed(env: dict[str, str], message: str) -> None:
    [problem] = problems(consumer_settings.read, **env)
    assert problem.startswith(message)


def test_results_go_to_the_output_topic_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load(consumer_settings.read).write_output is True
    monkeypatch.setenv("WRITE_OUTPUT", "false")
    assert load(consumer_settings.read).write_output is False
