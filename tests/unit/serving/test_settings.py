"""Serving settings: key auth is refused with an empty, example or short key."""

from __future__ import annotations

import pytest

from ml_service.errors import SettingsError
from ml_service.serving.settings import read_scoring_key, serving_settings
from ml_service.settings import load_env

GOOD_KEY = "k" * 8 + "-0123456789abcdef"

# Away from the developer's own SCORING_* variables and `.env`.
pytestmark = pytest.mark.usefixtures("workspace")


def test_no_key_means_auth_off():
    assert read_scoring_key(load_env()) is None


def test_key_from_variable_is_stripped():
    assert read_scoring_key(load_env(scoring_key=f"  {GOOD_KEY}\n")) == GOOD_KEY


def test_key_from_file_takes_the_first_line(tmp_path):
    path = tmp_path / "key"
    path.write_text(f"{GOOD_KEY}\nsecond line\n")
    assert read_scoring_key(load_env(scoring_key_file=path)) == GOOD_KEY


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("changethis", "example value"),
        ("CHANGEME", "example value"),
        ("example-scoring-key-123456", "example value"),
        ("short-key", "at least 16"),
    ],
)
def test_unsafe_key_is_refused(key, message):
    with pytest.raises(SettingsError, match=f"SCORING_KEY: .*{message}"):
        read_scoring_key(load_env(scoring_key=key))


def test_empty_key_file_is_refused(tmp_path):
    path = tmp_path / "key"
    path.write_text("")
    with pytest.raises(SettingsError, match="SCORING_KEY_FILE: the scoring key is empty"):
        read_scoring_key(load_env(scoring_key_file=path))


def test_missing_key_file_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="SCORING_KEY_FILE: cannot read"):
        read_scoring_key(load_env(scoring_key_file=tmp_path / "absent"))


def test_both_key_sources_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="not both"):
        read_scoring_key(load_env(scoring_key=GOOD_KEY, scoring_key_file=tmp_path / "k"))


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCORING_MAX_ROWS", "7")
    monkeypatch.setenv("SCORING_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("SCORING_COLLECT_DATA", "false")
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=x")
    settings = serving_settings(load_env())
    assert (settings.max_rows, settings.max_body_bytes, settings.collect_data) == (7, 1024, False)
    assert settings.connection_string == "InstrumentationKey=x"
    assert settings.scoring_key is None


def test_non_positive_limit_is_a_settings_error(monkeypatch):
    monkeypatch.setenv("SCORING_MAX_ROWS", "0")
    with pytest.raises(SettingsError, match="SCORING_MAX_ROWS"):
        load_env()
