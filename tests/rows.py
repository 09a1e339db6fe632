"""Domain values for the pure tests, built field by field: the Block Kit tables change one or
two fields of an otherwise ordinary row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.profile import DEFAULT_FIELDS, ProfileVersion
from bot.domain.results import TestResult
from bot.domain.stats import VersionStats

WHEN = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


def result(**changes: Any) -> TestResult:
    row = TestResult(
        id=41,
        team_id="T1",
        profile_version_id=3,
        kind="test",
        channel_id="C1",
        thread_ts="1.1",
        message_ts="1.2",
        user_id="U1",
        question="How do I cancel?",
        answer="Open Settings, then Billing.",
        model="small-model",
        total_ms=1234.0,
        ttft_ms=250.0,
        prompt_tokens=120,
        completion_tokens=30,
        confidence=0.8,
        proxies=None,
        analysis=None,
        alignment=None,
        analysis_error=None,
        interrupted=False,
        error_kind=None,
        error=None,
        dropped_turns=0,
        created_at=WHEN,
    )
    return replace(row, **changes)


def version(**changes: Any) -> ProfileVersion:
    fields = changes.pop("fields", DEFAULT_FIELDS)
    row = ProfileVersion(
        id=9,
        team_id="T1",
        profile_id=5,
        profile_name="Support",
        version=3,
        fields=fields,
        created_by="U2",
        created_at=WHEN,
        note=None,
    )
    return replace(row, **changes)


def version_stats(**changes: Any) -> VersionStats:
    row = VersionStats(
        version_id=9,
        version=3,
        created_at=WHEN,
        answers={"test": 4, "followup": 1, "scenario": 0, "ab": 2},
        failed=0,
        median_ms=850.0,
        p95_ms=1500.0,
        median_ttft_ms=None,
        p95_ttft_ms=None,
        alignment=82.5,
        aligned=4,
        trait_gaps={"formality": 5.0, "enthusiasm": -3.0},
        thumbs_up=3,
        thumbs_down=1,
        behaviours_passed=0,
        behaviours_judged=0,
        ab_won=1,
        ab_lost=0,
        ab_inconclusive=1,
        tokens=700,
        metered=7,
    )
    return replace(row, **changes)


def texts(blocks: Any) -> str:
    """Every `text` string in a Block Kit structure, one per line, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)
