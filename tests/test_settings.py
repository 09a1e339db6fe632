"""Settings as a newcomer meets them: `.env.example` copied as is, empty values, every problem
named in one message (names, never values)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.startup.runtime import build_llm
from bot.startup.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory with none of the developer's SLACK_/OPENAI_ variables around."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "OPENAI_", "DATABASE_", "DB_", "EVERYONE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def example_env(here: Path, **values: str) -> Path:
    """.env.example copied to .env with only the given lines filled in."""
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    env = here / ".env"
    env.write_text("\n".join(lines) + "\n")
    return env


def test_the_example_file_with_the_three_slack_values_loads(here: Path) -> None:
    example_env(
        here,
        SLACK_BOT_TOKEN="xoxb-1-2-real",
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_APP_TOKEN="xapp-1-real",
    )
    settings = load_settings()
    # empty lines in .env are "not set": defaults apply, nothing is half-configured
    assert settings.openai_api_key is None and settings.openai_base_url is None
    assert settings.database_url is None and settings.socket_mode
    assert not build_llm(settings).configured


def test_empty_environment_values_mean_not_set(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PORT", "DB_POOL_MAX", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.port == 3000 and settings.db_pool_max == 10
    assert settings.openai_api_key is None and not settings.socket_mode
    monkeypatch.setenv("OPENAI_API_KEY", "   ")
    assert load_settings().openai_api_key is None


def test_one_message_names_every_missing_setting(here: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SLACK_SIGNING_SECRET: is required but not set" in message
    assert "SLACK_BOT_TOKEN" in message and "SLACK_CLIENT_ID" in message
    assert "copy .env.example to .env" in message and "There is no .env" in message


def test_the_example_placeholders_are_named_not_sent_to_slack(here: Path) -> None:
    example_env(here, OPENAI_BASE_URL="not a url")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        assert f"{name}: still holds the placeholder from .env.example" in message
    assert "OPENAI_BASE_URL:" in message and "not a url" not in message
    assert "Set them in .env or the environment" in message


def test_a_bad_token_and_a_missing_secret_come_together(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "SLACK_SIGNING_SECRET: is required" in message and "PORT:" in message
    assert "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together" in message
