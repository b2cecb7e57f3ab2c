"""Settings from the environment, validated all at once.

Each service describes its settings as a function that reads an `environs.Env` in deferred
mode; `load` runs it, seals the Env and turns every problem into one `SettingsError` that
names each bad setting, its value and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from environs import Env, EnvValidationError, validate

T = TypeVar("T")

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(Exception):
    """Every invalid setting, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


CLIENT_CONFIG_PREFIX = "KAFKA_CLIENT_"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    topic: str
    dead_letter_topic: str
    # librdkafka properties passed through as they are, e.g. KAFKA_CLIENT_SECURITY_PROTOCOL=SSL
    # -> security.protocol=SSL; see docs/reference.md, "Connecting to another cluster".
    client_config: Mapping[str, str]


@dataclass(frozen=True)
class LogSettings:
    format: LogFormat
    level: str


def dead_letter_topic(topic: str) -> str:
    """Where the consumers put `topic`'s poison messages, unless DLQ_TOPIC says otherwise."""
    return f"{topic}.dlq"


def processed_topic(topic: str) -> str:
    """Where the consumers write each transaction they processed (with headers group, source)."""
    return f"{topic}.processed"


def default_group_id(client: str) -> str:
    """A consumer's group when GROUP_ID is not given: one group per client (fan-out)."""
    return f"test_group_{client}"


# The share group's limit on delivery attempts: Kafka's default, within the broker's bounds
# (group.share.min/max.delivery.count.limit, 2 and 10 by default).
DEFAULT_SHARE_DELIVERY_COUNT_LIMIT = 5


def share_delivery_count_limit(env: Env) -> int:
    """SHARE_DELIVERY_COUNT_LIMIT: provision sets it on the share group, its members read it."""
    return env.int(
        "SHARE_DELIVERY_COUNT_LIMIT",
        DEFAULT_SHARE_DELIVERY_COUNT_LIMIT,
        validate=validate.Range(min=2, max=10, error="must be from 2 to 10 (the broker's bounds)"),
    )


def kafka_settings(env: Env) -> KafkaSettings:
    topic = env.str("TOPIC", "transactions")
    return KafkaSettings(
        bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        topic=topic,
        dead_letter_topic=env.str("DLQ_TOPIC", dead_letter_topic(topic)),
        client_config=client_config(os.environ),
    )


def client_config(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name.removeprefix(CLIENT_CONFIG_PREFIX).lower().replace("_", "."): value
        for name, value in environ.items()
        if name.startswith(CLIENT_CONFIG_PREFIX)
    }


def log_settings(env: Env) -> LogSettings:
    return LogSettings(
        format=env.str("LOG_FORMAT", "text", validate=one_of(LOG_FORMATS)),  # type: ignore[arg-type]
        level=env.str("LOG_LEVEL", "INFO", validate=one_of(LOG_LEVELS)),
    )


def one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"must be one of: {', '.join(choices)}")


def at_least(minimum: float, *, inclusive: bool = True) -> validate.Range:
    """A Range validator whose message says what is allowed."""
    allowed = f"{minimum} or more" if inclusive else f"more than {minimum}"
    return validate.Range(min=minimum, min_inclusive=inclusive, error=f"must be {allowed}")


def load(read: Callable[[Env], T], overrides: Mapping[str, object | None] | None = None) -> T:
    """Read settings with `read`; CLI `overrides` (None = not given) win over the environment.

    Raises SettingsError listing every invalid setting.
    """
    with _environment(overrides or {}):
        env = Env(eager=False)
        settings = read(env)
        try:
            env.seal()
        except EnvValidationError as exc:
            raise SettingsError(_describe(exc.error_messages)) from None
        return settings


@contextmanager
def _environment(overrides: Mapping[str, object | None]) -> Iterator[None]:
    """os.environ as settings see it, restored afterwards.

    environs reads os.environ only, so CLI options are laid over it: one parser, one set of
    rules and one error report for both ways of giving a value. An empty variable means
    "use the default": Compose passes an unset `${VAR:-}` through as "".
    """
    saved = dict(os.environ)
    try:
        for name, value in overrides.items():
            if value is not None:
                os.environ[name] = str(value)
        for name in [n for n, v in os.environ.items() if v == ""]:
            del os.environ[name]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _describe(errors: Mapping[str, list[str]] | list[str]) -> list[str]:
    if isinstance(errors, list):
        return errors
    lines = []
    for name in sorted(errors):
        messages = errors[name]
        text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        value = os.environ.get(name)
        shown = "(not set)" if value is None else repr(value)
        lines.append(f"{name}={shown}: {text}")
    return lines
