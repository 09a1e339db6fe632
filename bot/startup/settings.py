"""All configuration, read once from the environment and an optional `.env`, then passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

README_SETTINGS_SECTION = "README.md, section 'Settings'"
ENV_EXAMPLE = ".env.example"
# what .env.example ships in place of a real value
PLACEHOLDER_SUFFIX = "..."


class CoreSettings(BaseSettings):
    """What every entry point needs: the database and the model. The scenarios CLI runs in a
    team's CI with only these, no Slack tokens."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `OPENAI_BASE_URL=` in .env (as .env.example ships it) or the environment means "not set"
        env_ignore_empty=True,
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
    # raises every judge's output budget to at least this many tokens; unset = each judge's own
    judge_max_tokens: Annotated[int, Field(ge=64, le=32_000)] | None = None
    context_budget_tokens: Annotated[int, Field(ge=512, le=2_000_000)] = 8000
    # scenario messages answered at once by every process together (held in the database)
    scenario_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    # jobs one process's worker runs at once; the shared limits above still hold
    worker_concurrency: Annotated[int, Field(ge=2, le=256)] = 8
    # /bot test answers one process's worker writes at once, on slots of their own: batch work
    # never holds them (they stream while a person watches; the model budget still applies)
    interactive_concurrency: Annotated[int, Field(ge=2, le=1000)] = 100
    # a job whose worker stopped beating for this long (its process was killed) runs again
    job_heartbeat_timeout_s: Annotated[float, Field(ge=1, le=600)] = 30.0
    # a calibration that would make more model calls than this asks for `confirm` first
    confirm_model_calls: Annotated[int, Field(ge=0, le=1_000_000)] = 200
    knowledge_budget_tokens: Annotated[int, Field(ge=100, le=100_000)] = 2000
    # days after an uninstall before a workspace's data is deleted; unset keeps it until purged
    uninstalled_retention_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    # the model that plays simulated customers (issue #18); unset = the judge model
    simulator_model: str | None = None
    # the simulator's sampling temperature: above 0 so that repeated samples (and the seeds of
    # an A/B over simulations) give different customers; 0 makes every repeat the same
    simulator_temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7

    log_level: str = "INFO"

    @field_validator("openai_api_key")
    @classmethod
    def _key_given(cls, v: SecretStr | None) -> SecretStr | None:
        return _real_secret(v)

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
    # true: every member of the workspace may edit, not only editors
    everyone_can_edit: bool = False
    # Socket Mode has no HTTP server of its own: the read API (/v1) listens here when set
    api_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    # read API requests per API token and minute (a burst of as many, refilled evenly)
    api_rate_limit_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 120
    # false: this process answers no queued work; run `romashka worker` next to it instead
    worker_in_app: bool = True

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        v = _real_secret(v)
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with 'xoxb-'")
        return v

    @field_validator("slack_client_secret")
    @classmethod
    def _client_secret_given(cls, v: SecretStr | None) -> SecretStr | None:
        return _real_secret(v)

    @model_validator(mode="after")
    def _one_way_to_authorize(self) -> Settings:
        problem = authorization_problem(
            bot_token=self.slack_bot_token is not None,
            client_id=self.slack_client_id is not None,
            client_secret=self.slack_client_secret is not None,
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def oauth_enabled(self) -> bool:
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        v = _real_secret(v)
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with 'xapp-'")
        return v

    @field_validator("slack_signing_secret")
    @classmethod
    def _secret_not_blank(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().strip():
            raise ValueError("must not be empty")
        return _real_secret(v) or v

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


def _real_secret(v: SecretStr | None) -> SecretStr | None:
    """Blank means not set; the example file's placeholder is refused by name."""
    if v is None or not v.get_secret_value().strip():
        return None
    if v.get_secret_value().strip().endswith(PLACEHOLDER_SUFFIX):
        raise ValueError(f"still holds the placeholder from {ENV_EXAMPLE}: put in the real value")
    return v


_AUTHORIZATION_FIELDS = frozenset({"slack_bot_token", "slack_client_id", "slack_client_secret"})


def authorization_problem(*, bot_token: bool, client_id: bool, client_secret: bool) -> str | None:
    """One workspace needs a bot token; many need the OAuth client id and secret together."""
    oauth = client_id or client_secret
    if oauth and not (client_id and client_secret):
        return "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (multi-workspace install)"
    if not oauth and not bot_token:
        return (
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(install in many workspaces)"
        )
    return None


class _RawAuthorization(BaseSettings):
    """The authorization settings unvalidated, so a start-up that fails on other settings can
    still name a missing token in the same message (pydantic skips the cross-field check then)."""

    model_config = CoreSettings.model_config

    slack_bot_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None


class SettingsError(Exception):
    """Start-up configuration is unusable; the message names every problem and never a value."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def problems(exc: ValidationError) -> list[str]:
    """One line per setting, named as in .env; err["msg"] describes the rule, never the value."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]).upper()
        message = err["msg"].removeprefix("Value error, ")
        if not name:
            lines.append(f"  - {message}")
        elif err["type"] == "missing":
            lines.append(f"  - {name}: is required but not set")
        else:
            lines.append(f"  - {name}: {message}")
    return lines


def describe_problems(lines: list[str], *, env_file: Path | None = Path(".env")) -> str:
    if env_file is not None and not env_file.exists():
        fix = (
            f"There is no {env_file} in {Path.cwd()}, so only the environment was read: copy "
            f"{ENV_EXAMPLE} to .env and fill it in."
        )
    else:
        fix = f"Set them in .env or the environment ({ENV_EXAMPLE} lists every setting)."
    return (
        "ROMASHKA cannot start: the configuration has problems.\n"
        + "\n".join(lines)
        + f"\n{fix} {README_SETTINGS_SECTION} explains each."
    )


def describe_errors(exc: ValidationError) -> str:
    return describe_problems(problems(exc))


def _authorization_line(exc: ValidationError) -> str | None:
    """The missing-token problem pydantic did not get to, unless a token setting is already
    named (a malformed token is set, just wrong)."""
    named = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
    if named & _AUTHORIZATION_FIELDS or any(not err["loc"] for err in exc.errors()):
        return None
    raw = _RawAuthorization()
    problem = authorization_problem(
        bot_token=bool(raw.slack_bot_token),
        client_id=bool(raw.slack_client_id),
        client_secret=bool(raw.slack_client_secret),
    )
    return None if problem is None else f"  - {problem}"


def load_settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        lines = problems(exc)
        missing_token = _authorization_line(exc)
        if missing_token is not None:
            lines.append(missing_token)
        raise SettingsError(describe_problems(lines), lines) from None


def load_core_settings() -> CoreSettings:
    try:
        return CoreSettings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc), problems(exc)) from None
