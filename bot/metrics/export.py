"""CSV files for `/bot export`: every stored field of each answer, and every A/B vote. Pure.

Values are written so they read back exactly (`read_results_csv`): floats as `repr`, JSON
columns as JSON, times as ISO 8601 with their offset, an empty cell for NULL. Text that a
spreadsheet would run as a formula (=, +, -, @ …) is prefixed with an apostrophe, and so is
text that already starts with one, so the prefix can always be removed again."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Final

from bot.domain.results import TestResult
from bot.domain.stats import ExportedResult, ExportedVote
from storage.stats import RESULT_COLUMNS

# UTF-8 with a byte order mark: Excel otherwise opens UTF-8 files as the local code page
ENCODING: Final = "utf-8-sig"
RESULT_HEADER: Final = ("profile", "version", *RESULT_COLUMNS)
VOTE_HEADER: Final = (
    "ab_test_id",
    "status",
    "started_at",
    "closed_at",
    "version_a",
    "version_b",
    "message_position",
    "message",
    "reply_1_was",
    "judge_verdict",
    "user_id",
    "choice",
    "preferred",
    "voted_at",
)

_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "'")


def _kind(annotation: str) -> str:
    """How a TestResult field's cells read back, from its annotation (a string here)."""
    base = annotation.replace(" | None", "")
    if base.startswith(("list[", "dict[")):
        return "json"
    return base if base in {"int", "float", "bool", "datetime"} else "text"


_KINDS: Final = {
    "profile": "text",
    "version": "int",
    **{f.name: _kind(str(f.type)) for f in fields(TestResult)},
}
# NOT NULL text: an empty cell there is an empty string, not NULL
_REQUIRED_TEXT: Final = frozenset(
    {"profile", *(f.name for f in fields(TestResult) if str(f.type) == "str")}
)

Value = str | int | float | bool | datetime | dict[str, object] | list[object] | None


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _untext(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return _text(str(value))


def _write(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue().encode(ENCODING)


def results_csv(rows: Sequence[ExportedResult]) -> bytes:
    return _write(
        RESULT_HEADER,
        [
            (r.profile_name, r.version, *(getattr(r.result, c) for c in RESULT_COLUMNS))
            for r in rows
        ],
    )


def _preferred(v: ExportedVote) -> str:
    return {"a": v.version_a, "b": v.version_b, "tie": "tie", "both_bad": "both bad"}.get(
        v.choice, v.choice
    )


def votes_csv(rows: Sequence[ExportedVote]) -> bytes:
    return _write(
        VOTE_HEADER,
        [
            (
                v.ab_test_id,
                v.status,
                v.started_at,
                v.closed_at,
                v.version_a,
                v.version_b,
                v.position,
                v.message,
                "A" if v.a_first else "B",
                v.judge_verdict,
                v.user_id,
                v.choice,
                _preferred(v),
                v.voted_at,
            )
            for v in rows
        ],
    )


def _parse(column: str, raw: str) -> Value:
    if raw == "":
        return "" if column in _REQUIRED_TEXT else None
    kind = _KINDS.get(column, "text")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw == "true"
    if kind == "datetime":
        return datetime.fromisoformat(raw)
    if kind == "json":
        parsed: dict[str, object] | list[object] = json.loads(raw)
        return parsed
    return _untext(raw)


def read_results_csv(data: bytes) -> list[dict[str, Value]]:
    """The results CSV back as typed values, one dict per answer keyed by column."""
    reader = csv.reader(io.StringIO(data.decode(ENCODING), newline=""))
    header = next(reader)
    return [{c: _parse(c, raw) for c, raw in zip(header, row, strict=True)} for row in reader]
