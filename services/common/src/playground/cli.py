"""What the services' command lines share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import click
from environs import Env

from playground.settings import SettingsError, load

T = TypeVar("T")


class InvalidSettings(click.ClickException):
    """Bad settings are a usage error: exit code 2, one line per setting."""

    exit_code = 2


def load_settings(read: Callable[[Env], T], overrides: Mapping[str, object | None]) -> T:
    try:
        return load(read, overrides)
    except SettingsError as exc:
        raise InvalidSettings("invalid settings:\n  " + "\n  ".join(exc.problems)) from None
