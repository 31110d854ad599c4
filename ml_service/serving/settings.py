"""The service's settings, taken from `Env` and checked at start-up (unsafe keys refused)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ml_service.errors import SettingsError
from ml_service.settings import Env

MIN_KEY_LENGTH = 16
EXAMPLE_KEYS = frozenset(
    {"changethis", "changeme", "change-me", "example", "secret", "password", "key", "<key>"}
)


@dataclass(frozen=True)
class ServingSettings:
    """What `mlops serve` runs with, beyond the model."""

    scoring_key: str | None
    max_body_bytes: int
    max_rows: int
    collect_data: bool
    connection_string: str | None


def read_scoring_key(env: Env) -> str | None:
    """The scoring key from SCORING_KEY or SCORING_KEY_FILE, or None when key auth is off.

    Setting either variable asks for key auth; then an empty, example or short key
    is refused rather than served with.

    Raises:
        SettingsError: both variables are set, the file cannot be read, or the key is unsafe.
    """
    if env.scoring_key is not None and env.scoring_key_file is not None:
        raise SettingsError("set SCORING_KEY or SCORING_KEY_FILE, not both")
    if env.scoring_key is not None:
        source, key = "SCORING_KEY", env.scoring_key.get_secret_value()
    elif env.scoring_key_file is not None:
        source, key = "SCORING_KEY_FILE", _read_key_file(env.scoring_key_file)
    else:
        return None
    key = key.strip()
    if not key:
        raise SettingsError(
            f"{source}: the scoring key is empty; set a random key of 32+ characters"
        )
    if key.lower() in EXAMPLE_KEYS or key.lower().startswith(("example", "changeme", "change-me")):
        raise SettingsError(f"{source}: the scoring key is an example value; set a random key")
    if len(key) < MIN_KEY_LENGTH:
        raise SettingsError(
            f"{source}: the scoring key has {len(key)} characters; use at least {MIN_KEY_LENGTH} "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return key


def _read_key_file(path: Path) -> str:
    try:
        lines = path.expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SettingsError(f"SCORING_KEY_FILE: cannot read {path}: {err}") from err
    return lines[0] if lines else ""


def serving_settings(env: Env) -> ServingSettings:
    """Check and gather the serving settings.

    Raises:
        SettingsError: an unsafe scoring key (see `read_scoring_key`).
    """
    connection_string = env.applicationinsights_connection_string
    return ServingSettings(
        scoring_key=read_scoring_key(env),
        max_body_bytes=env.scoring_max_body_bytes,
        max_rows=env.scoring_max_rows,
        collect_data=env.scoring_collect_data,
        connection_string=connection_string.get_secret_value() if connection_string else None,
    )
