"""All configuration, read once from the environment and an optional `.env`, then passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

README_SETTINGS_SECTION = "README.md, section 'Settings'"


class CoreSettings(BaseSettings):
    """What every entry point needs: the database and the model. The scenarios CLI runs in a
    team's CI with only these, no Slack tokens."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str | None = None
    romashka_data_dir: Path = Path(".romashka")
    db_pool_min: Annotated[int, Field(ge=1, le=100)] = 1
    db_pool_max: Annotated[int, Field(ge=1, le=100)] = 10

    openai_api_key: SecretStr | None = None
    openai_base_url: AnyHttpUrl | None = None
    openai_model: str = "gpt-4o-mini"
    openai_judge_model: str | None = None
    openai_timeout: Annotated[float, Field(gt=0, le=600)] = 60.0
    openai_max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    context_budget_tokens: Annotated[int, Field(ge=512, le=2_000_000)] = 8000
    scenario_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    knowledge_budget_tokens: Annotated[int, Field(ge=100, le=100_000)] = 2000
    # days after an uninstall before a workspace's data is deleted; unset keeps it until purged
    uninstalled_retention_days: Annotated[int, Field(ge=0, le=3650)] | None = None

    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _dsn_shape(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql:// (or postgres://)")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        level = v.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level


class Settings(CoreSettings):
    # one workspace: a bot token; many workspaces (OAuth): a client id and secret instead
    slack_bot_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: AnyHttpUrl | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 3000

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with 'xoxb-'")
        return v

    @model_validator(mode="after")
    def _one_way_to_authorize(self) -> Settings:
        oauth = self.slack_client_id is not None or self.slack_client_secret is not None
        if oauth and (self.slack_client_id is None or self.slack_client_secret is None):
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (multi-workspace install)"
            )
        if not oauth and self.slack_bot_token is None:
            raise ValueError(
                "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                "(install in many workspaces)"
            )
        return self

    @property
    def oauth_enabled(self) -> bool:
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with 'xapp-'")
        return v

    @field_validator("slack_signing_secret")
    @classmethod
    def _secret_not_blank(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().strip():
            raise ValueError("must not be empty")
        return v

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def slack_api_base(self) -> str | None:
        """slack_sdk wants the base with a trailing slash: it appends the method name."""
        if self.slack_api_url is None:
            return None
        url = str(self.slack_api_url)
        return url if url.endswith("/") else url + "/"


class SettingsError(Exception):
    """Start-up configuration is unusable; the message names every problem and never a value."""


def describe_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        if err["type"] == "missing":
            lines.append(f"  - {name}: is required but not set")
        else:
            # err["msg"] only ever describes the rule, never the rejected value
            lines.append(f"  - {name}: {err['msg']}")
    return (
        "ROMASHKA cannot start: the configuration has problems.\n"
        + "\n".join(lines)
        + f"\nSee {README_SETTINGS_SECTION}."
    )


def load_settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


def load_core_settings() -> CoreSettings:
    try:
        return CoreSettings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
