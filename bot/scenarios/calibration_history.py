"""Keeping each calibration and comparing it with the last one of the same profile, trait and
scenario (any version of the profile), for Slack and the CLI."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

import asyncpg

from bot.domain.calibration_runs import CalibrationRun
from bot.domain.profile import ProfileVersion
from bot.metrics.calibration import LEVELS, Calibration, to_json
from bot.metrics.calibration_compare import Change, change_lines, compare, from_json
from bot.metrics.calibration_compare import to_json as change_json
from bot.persona.personality import build_system_prompt, sampling_for
from storage import calibrations as repo

log = logging.getLogger(__name__)

NOT_KEPT: Final = (
    "Not kept: the database refused this calibration, so the next one cannot be compared "
    "with it (the figures above stand)."
)


def inputs_hash(version: ProfileVersion, *, trait: str, questions: Sequence[str]) -> str:
    """SHA-256 of what builds the prompts of a sweep: the version's fields, the questions, and
    the system prompt and sampling at every setting (so a change to the prompt builder, not
    only to the profile, shows as "the prompt inputs changed")."""
    prompts = []
    for level in LEVELS:
        # the swept field at this setting, as the sweep sets it (trait is one of TRAITS)
        changes: dict[str, Any] = {trait: level}
        fields = replace(version.fields, **changes)
        prompts.append([build_system_prompt(fields), repr(sampling_for(fields))])
    # the swept field's own value is replaced at every setting: it changes no prompt
    base = {k: v for k, v in asdict(version.fields).items() if k != trait}
    blob = json.dumps(
        {"fields": base, "questions": list(questions), "prompts": prompts},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Recorded:
    change: Change | None  # None: the first calibration of this profile, trait and scenario
    before_label: str | None
    lines: list[str]

    def to_json(self) -> dict[str, Any] | None:
        if self.change is None:
            return None
        return {"before": self.before_label, **change_json(self.change)}


async def record(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    version: ProfileVersion,
    scenario: str | None,
    questions: Sequence[str],
    samples: int,
    lost: int,
    result: Calibration,
) -> Recorded:
    """Store the calibration; the lines comparing it with the last one before it. When the
    database refuses, the figures are still shown and the lines say it was not kept."""
    key = scenario or ""
    digest = inputs_hash(version, trait=result.trait, questions=questions)
    try:
        previous = await repo.last(
            pool, team_id=team_id, profile_id=version.profile_id, trait=result.trait, scenario=key
        )
        await repo.save(
            pool,
            team_id=team_id,
            profile_id=version.profile_id,
            version_id=version.id,
            trait=result.trait,
            scenario=key,
            samples=samples,
            lost=lost,
            inputs_hash=digest,
            result=to_json(result),
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        log.exception("could not keep a calibration of %s", result.trait)
        return Recorded(None, None, [NOT_KEPT])
    return _against(previous, result, digest)


FIRST: Final = "First calibration of this trait, profile and scenario: kept to compare."


def _against(previous: repo.StoredCalibration | None, result: Calibration, digest: str) -> Recorded:
    if previous is None:
        return Recorded(None, None, [FIRST])
    change = compare(result, from_json(previous.result), same_inputs=previous.inputs_hash == digest)
    label = f"{previous.version_label}, {previous.created_at:%Y-%m-%d %H:%M} UTC"
    return Recorded(change, label, change_lines(change, before_label=label))


async def record_run(
    pool: asyncpg.Pool,
    *,
    run: CalibrationRun,
    version: ProfileVersion,
    lost: int,
    result: Calibration,
) -> tuple[int, Recorded]:
    """Store a queued sweep's calibration of one trait once (the run and trait are its key),
    compared with the last one stored before it: a report done again (its job retried) finds
    the same row and says the same. Database errors are raised: the job is retried."""
    key = run.scenario or ""
    digest = inputs_hash(version, trait=result.trait, questions=run.questions)
    calibration_id = await repo.save(
        pool,
        team_id=run.team_id,
        profile_id=version.profile_id,
        version_id=version.id,
        trait=result.trait,
        scenario=key,
        samples=run.samples,
        lost=lost,
        inputs_hash=digest,
        result=to_json(result),
        run_id=run.id,
    )
    previous = await repo.last(
        pool,
        team_id=run.team_id,
        profile_id=version.profile_id,
        trait=result.trait,
        scenario=key,
        before_id=calibration_id,
    )
    recorded = _against(previous, result, digest)
    await repo.set_report(
        pool,
        team_id=run.team_id,
        calibration_id=calibration_id,
        report={"lines": recorded.lines, "against_last": recorded.to_json()},
    )
    return calibration_id, recorded
