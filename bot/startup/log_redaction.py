"""No secret in any log record, at any level, from any library.

At DEBUG slack_sdk logs every Web API response body (`oauth.v2.access` answers with the bot's
`access_token`) and the form fields it sends (`client_secret`); Bolt logs the body of a request
whose signature fails; a DSN in a connection error carries its password. Rather than silence
those loggers (DEBUG is for debugging them), every record is scrubbed where it is made: a record
factory formats the message (and any traceback) once and replaces what looks like a token, key,
secret or password, and the configured secrets themselves, by `[redacted]`. Made there, it holds
for every handler, pytest's capture included.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.startup.settings import CoreSettings

REDACTED: Final = "[redacted]"
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# a configured secret shorter than this is only caught by the patterns: replacing a short
# string everywhere would garble ordinary words
MIN_EXACT_SECRET: Final = 6

_PATTERNS: Final = (
    # Slack tokens: bot, user, app-level, refresh, rotating (xoxe.xoxp-), configuration
    re.compile(r"\bx(?:ox[a-z](?:\.xox[a-z])?|app)-[A-Za-z0-9-]+"),
    # ROMASHKA's own read-API tokens (bot/release/api_tokens.py), wherever they appear
    re.compile(r"\brmk_[A-Za-z0-9_-]{8,}"),
    # OpenAI-style keys (sk-…, sk-proj-…)
    re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"),
    # Authorization headers, whatever the scheme
    re.compile(
        r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?[^'\"\s,}]+"
    ),
    # secret-looking fields in JSON, Python reprs, form bodies and query strings
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|bot_token|user_token|token|client_secret"
        r"|signing_secret|api_key|apikey|password|passwd|secret)['\"]?\s*[:=]\s*['\"]?)"
        r"[^'\"\s,&}]+"
    ),
    # the password in a URL or DSN (scheme://user:password@host)
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]*:)[^@/\s]+(@)", re.IGNORECASE),
    # response_url and webhook URLs let anyone post for a while
    re.compile(r"(hooks\.slack\.com/)[^\s'\"]+"),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is replaced whole
        self._exact = sorted({s for s in secrets if len(s) >= MIN_EXACT_SECRET}, key=len)[::-1]

    def redact(self, text: str) -> str:
        for secret in self._exact:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text

    def scrub(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return  # a broken format string: the handler reports it, with the raw arguments
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(_TRACEBACKS.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


_TRACEBACKS: Final = logging.Formatter()


def _keep_prefix(match: re.Match[str]) -> str:
    """The secret goes; what says where it was (`access_token: `, `://user:` … `@`) stays."""
    if match.re.groups == 2:
        return f"{match.group(1)}{REDACTED}{match.group(2)}"
    if match.re.groups == 1:
        return f"{match.group(1)}{REDACTED}"
    return REDACTED


def secret_values(settings: CoreSettings) -> list[str]:
    """Every configured secret: the SecretStr settings, and passwords inside URL settings."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value: Any = getattr(settings, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
        elif value is not None and "://" in str(value):
            password = urlsplit(str(value)).password
            if password:
                values.append(password)
    return values


def install(redactor: Redactor) -> Callable[[], None]:
    """Scrub every record made from now on; returns the undo (tests use it)."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)


def configure_logging(settings: CoreSettings, *, level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    install(Redactor(secret_values(settings)))
