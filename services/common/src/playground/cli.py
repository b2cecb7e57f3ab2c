"""What the services' command lines share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
from environs import Env

from playground import host
from playground.settings import SettingsError, load

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class InvalidSettings(click.ClickException):
    """Bad settings are a usage error: exit code 2, one line per setting."""

    exit_code = 2


def load_settings(read: Callable[[Env], T], overrides: Mapping[str, object | None]) -> T:
    try:
        return load(read, overrides)
    except SettingsError as exc:
        raise InvalidSettings("invalid settings:\n  " + "\n  ".join(exc.problems)) from None


# Options of the tools run on the host (watch, chaos, bench): one name, variable and default
# each. Unset, each is what Compose sees: the environment, then the repo's .env (see host.py).
HOST_OPTIONS: dict[str, tuple[str, Callable[[], str], str]] = {
    "KAFKA_BOOTSTRAP_SERVERS": (
        "--bootstrap-servers",
        host.bootstrap_servers,
        "localhost:KAFKA_HOST_PORT, else localhost:9092",
    ),
    "COMPOSE_PROJECT_NAME": (
        "--project",
        lambda: host.setting("COMPOSE_PROJECT_NAME") or "kafka-playground",
        "COMPOSE_PROJECT_NAME in .env, else kafka-playground",
    ),
    # The image `make images` builds (the environment, then .env) is the one the bench runs.
    "APP_IMAGE": (
        "--app-image",
        lambda: host.setting("APP_IMAGE") or "kafka-playground/app:latest",
        "APP_IMAGE in .env, else kafka-playground/app:latest",
    ),
    "TOPIC": (
        "--topic",
        lambda: host.setting("TOPIC") or "transactions",
        "TOPIC in .env, else transactions",
    ),
}


def host_option(envvar: str, help_text: str = "") -> Callable[[F], F]:
    """The option for one of HOST_OPTIONS, which also reads its environment variable."""
    name, default, shown = HOST_OPTIONS[envvar]
    return click.option(
        name, envvar=envvar, default=default, show_default=shown, help=f"{help_text} [env {envvar}]"
    )
