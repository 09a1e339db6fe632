"""Calibrating a trait's slider: answer a scenario's messages at each setting of one trait, every
other field fixed, `samples` times each, and have the trait judge say what it perceived.

From Slack and `romashka calibrate` a sweep is queued work: one durable job per cell
(bot.jobs.calibration_cell), reported by the last (bot.scenarios.calibration_report). `sweep`
answers in this process, for the benches.

Nothing here is stored as a test result: a calibration answers profiles that were never saved
(the swept settings), and its answers would otherwise count in the version's figures (a queued
sweep keeps each answer in its cell, storage/calibration_runs.py, and nowhere else). The answer
is made as the pipeline makes it (the version's prompt and sampling, no conversation, no
knowledge, so only the slider differs between settings).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.pipeline import RunContext
from bot.blocks.calibration import running_parent
from bot.blocks.common import escape
from bot.domain.analysis import Analysis
from bot.domain.calibration_runs import CalibrationRun
from bot.domain.profile import TRAITS, ProfileFields, ProfileVersion
from bot.errors import UserError
from bot.jobs.enqueue import enqueue_calibration_cells
from bot.jobs.payloads import CALIBRATION_CELL, CalibrationCellJob
from bot.metrics.calibration import LEVELS, Sample
from bot.metrics.proxies import measure
from bot.model.llm import LLM, Completion, LLMError, LLMErrorKind
from bot.model.trait_judge import analyse
from bot.persona.conversation import Turn, build_messages
from bot.persona.personality import build_system_prompt, sampling_for
from bot.persona.versions import resolve_version
from bot.scenarios import library
from storage import calibration_runs as runs_repo
from storage import profiles as profiles_repo

log = logging.getLogger(__name__)

SAMPLES_DEFAULT: Final = 5
SAMPLES_MAX: Final = 20
CALLS_PER_SAMPLE: Final = 2  # the answer and the trait judge
PROXIES: Final = (
    "contractions_per_100_words",
    "exclamations_per_sentence",
    "reading_grade",
    "mean_sentence_length",
    "emoji_count",
)


def model_calls(*, traits: int, questions: int, samples: int) -> int:
    """What a calibration will cost, said before it runs."""
    return traits * len(LEVELS) * questions * samples * CALLS_PER_SAMPLE


def at_setting(fields: ProfileFields, *, trait: str, level: int) -> ProfileFields:
    if trait == "formality":
        return replace(fields, formality=level)
    if trait == "enthusiasm":
        return replace(fields, enthusiasm=level)
    if trait == "technical_depth":
        return replace(fields, technical_depth=level)
    if trait == "empathy":
        return replace(fields, empathy=level)
    raise ValueError(f"unknown trait {trait!r}")


async def answer_once(
    llm: LLM, *, fields: ProfileFields, question: str, context_budget_tokens: int
) -> Completion:
    """The answer as the pipeline makes it (the version's prompt and sampling, no
    conversation, no knowledge). Raises LLMError when the model gave nothing."""
    sampling = sampling_for(fields)
    built = build_messages(
        system_prompt=build_system_prompt(fields),
        turns=[Turn(role="user", content=question)],
        context_budget_tokens=context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )

    async def quiet(_: str) -> None:
        return None

    return await llm.stream_answer(
        messages=built.messages, sampling=sampling, model=fields.model, on_text=quiet
    )


Levels = tuple[dict[str, int], dict[str, float | None]]


async def levels_of(
    llm: LLM,
    *,
    fields: ProfileFields,
    question: str,
    completion: Completion,
    raise_rate_limited: bool = False,
) -> Levels | None:
    """The trait judge's perceived levels and the measured proxies of an answer; None when
    the judge gave no levels (this sample says nothing)."""
    return await levels_of_text(
        llm,
        fields=fields,
        question=question,
        text=completion.text,
        cut_off=completion.cut_off,
        raise_rate_limited=raise_rate_limited,
    )


async def levels_of_text(
    llm: LLM,
    *,
    fields: ProfileFields,
    question: str,
    text: str,
    cut_off: bool,
    raise_rate_limited: bool = False,
) -> Levels | None:
    """`levels_of` for a stored answer. `raise_rate_limited`: a judge answered 429 raises
    LLMError(RATE_LIMITED) (the queued cell asks again later) instead of giving no levels."""
    analysis = await analyse(llm, fields=fields, question=question, answer=text, detail=False)
    if not isinstance(analysis, Analysis):
        if raise_rate_limited and analysis.rate_limited:
            raise LLMError(LLMErrorKind.RATE_LIMITED, retry_after_s=analysis.retry_after_s)
        return None
    proxies = measure(text, cut=cut_off).as_dict()
    return (
        {t.trait: t.perceived for t in analysis.traits},
        {
            name: None if proxies.get(name) is None else float(proxies[name] or 0)
            for name in PROXIES
        },
    )


async def _one(
    llm: LLM, *, fields: ProfileFields, question: str, context_budget_tokens: int
) -> Levels | None:
    try:
        completion = await answer_once(
            llm, fields=fields, question=question, context_budget_tokens=context_budget_tokens
        )
    except LLMError:
        return None
    if not completion.text.strip():
        return None
    return await levels_of(llm, fields=fields, question=question, completion=completion)


async def sweep(
    llm: LLM,
    *,
    fields: ProfileFields,
    trait: str,
    questions: Sequence[str],
    samples: int,
    concurrency: int,
    context_budget_tokens: int,
    on_sample: Callable[[int, int], Awaitable[None]] | None = None,
) -> tuple[list[Sample], int]:
    """The samples at every setting of `trait` (other fields as in `fields`) and how many of
    the planned samples gave nothing (model error, empty answer, no judge levels)."""
    if trait not in TRAITS:
        raise ValueError(f"unknown trait {trait!r}")
    limit = asyncio.Semaphore(concurrency)
    planned = [(level, q) for level in LEVELS for q in questions for _ in range(samples)]
    done = 0

    async def one(level: int, question: str) -> Sample | None:
        nonlocal done
        async with limit:
            got = await _one(
                llm,
                fields=at_setting(fields, trait=trait, level=level),
                question=question,
                context_budget_tokens=context_budget_tokens,
            )
        done += 1
        if on_sample is not None:
            await on_sample(done, len(planned))
        return None if got is None else Sample(setting=level, perceived=got[0], proxies=got[1])

    results = await asyncio.gather(*(one(level, q) for level, q in planned))
    kept = [s for s in results if s is not None]
    return kept, len(results) - len(kept)


# ---- from Slack ---------------------------------------------------------------------------------

CALIBRATE_USAGE: Final = (
    "Usage: `/bot calibrate <trait|all> [profile[@version]] [scenario] [samples N] [confirm]`, "
    "e.g. `/bot calibrate formality Support@3 Billing questions`. Traits: formality, "
    "enthusiasm, technical_depth, empathy."
)


@dataclass(frozen=True, slots=True)
class CalibrateArgs:
    traits: tuple[str, ...]
    spec: str | None
    scenario: str | None
    samples: int
    confirmed: bool


def parse_args(words: Sequence[str], *, profile_names: Sequence[str]) -> CalibrateArgs:
    """`<trait|all> [profile[@version]] [scenario name...] [samples N] [confirm]`; the word
    after the trait is a profile when it names one (or carries @version), else the scenario
    name begins there."""
    rest = list(words)
    if not rest:
        raise UserError(CALIBRATE_USAGE)
    trait = rest.pop(0).lower()
    if trait != "all" and trait not in TRAITS:
        raise UserError(f"I don't know the trait `{escape(trait[:40])}`. {CALIBRATE_USAGE}")
    confirmed = bool(rest) and rest[-1].lower() == "confirm"
    if confirmed:
        rest.pop()
    samples = SAMPLES_DEFAULT
    if len(rest) >= 2 and rest[-2].lower() == "samples":
        raw = rest[-1]
        if not raw.isdigit() or not 1 <= int(raw) <= SAMPLES_MAX:
            raise UserError(f"`samples` takes a number from 1 to {SAMPLES_MAX}.")
        samples = int(raw)
        del rest[-2:]
    spec = None
    names = {n.lower() for n in profile_names}
    if rest and ("@" in rest[0] or rest[0].lower() in names):
        spec = rest.pop(0)
    return CalibrateArgs(
        traits=tuple(TRAITS) if trait == "all" else (trait,),
        spec=spec,
        scenario=" ".join(rest) or None,
        samples=samples,
        confirmed=confirmed,
    )


def chart_name(trait: str, label: str) -> str:
    return "calibration-" + re.sub(r"[^\w.-]", "_", f"{trait}-{label}") + ".png"


def cost_text(*, traits: int, questions: int, samples: int) -> str:
    calls = model_calls(traits=traits, questions=questions, samples=samples)
    return (
        f"{questions} messages × {len(LEVELS)} settings × {samples} samples"
        + (f" × {traits} traits" if traits > 1 else "")
        + f" = {calls} model calls"
    )


async def queue_run(
    pool: asyncpg.Pool,
    *,
    version: ProfileVersion,
    traits: Sequence[str],
    questions: Sequence[str],
    samples: int,
    scenario: str | None,
    channel_id: str | None,
    thread_ts: str | None,
    created_by: str,
    entrypoint: str,
) -> CalibrationRun:
    """Store the sweep and queue one job per cell, in one transaction: a run is never stored
    without its jobs, nor the other way round."""
    cost = cost_text(traits=len(traits), questions=len(questions), samples=samples)
    async with pool.acquire() as con, con.transaction():
        run = await runs_repo.create_run(
            con,
            team_id=version.team_id,
            profile_id=version.profile_id,
            version_id=version.id,
            label=version.label,
            traits=traits,
            levels=LEVELS,
            questions=questions,
            samples=samples,
            scenario=scenario,
            cost=cost,
            channel_id=channel_id,
            thread_ts=thread_ts,
            created_by=created_by,
        )
        await enqueue_calibration_cells(
            con,
            [
                CalibrationCellJob(run.team_id, run.id, c.trait, c.level, c.question_idx, c.sample)
                for c in run.cells()
            ],
            entrypoint=entrypoint,
        )
    return run


async def start(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    words: Sequence[str],
    confirm_above: int,
) -> str | None:
    """Say the cost (and stop there above the team's limit unless confirmed), then queue the
    sweep: its cells are answered by the workers, and the last one posts each trait's figures
    and chart in the thread (bot.jobs.calibration_cell). What to tell the person, if anything."""
    profiles = await profiles_repo.list_profiles(ctx.pool, team_id=team_id)
    args = parse_args(words, profile_names=[p.name for p in profiles])
    version = await resolve_version(
        ctx.pool, team_id=team_id, spec=args.spec, channel_id=channel_id
    )
    scenarios = (
        [
            await library.by_name(
                ctx.pool, team_id=team_id, name=args.scenario, usage=CALIBRATE_USAGE
            )
        ]
        if args.scenario
        else await library.every(ctx.pool, team_id=team_id)
    )
    questions = list(dict.fromkeys(m for s in scenarios for m in s.messages))
    if not questions:
        raise UserError(
            "There are no scenario messages to ask. Create one with `/bot scenario new`."
        )
    calls = model_calls(traits=len(args.traits), questions=len(questions), samples=args.samples)
    cost = cost_text(traits=len(args.traits), questions=len(questions), samples=args.samples)
    if calls > confirm_above and not args.confirmed:
        return (
            f"This calibration makes {cost}, above this workspace's limit of {confirm_above}. "
            "Add `confirm` at the end to run it, or ask fewer `samples N` or one scenario."
        )
    parent = await client.chat_postMessage(
        channel=channel_id, text=running_text(args.traits, label=version.label, cost=cost)
    )
    run = await queue_run(
        ctx.pool,
        version=version,
        traits=args.traits,
        questions=questions,
        samples=args.samples,
        scenario=scenarios[0].name if args.scenario else None,
        channel_id=channel_id,
        thread_ts=str(parent["ts"]),
        created_by=user_id,
        entrypoint=CALIBRATION_CELL,
    )
    await _show_stop(ctx.pool, client, run=run)
    return None


async def _show_stop(pool: asyncpg.Pool, client: AsyncWebClient, *, run: CalibrationRun) -> None:
    """The parent gets its Stop once the sweep is stored (the button names the run, which did
    not exist when the parent was posted). Under the parent's lock, and only while the sweep
    runs: its cells are being answered already, and a sweep that ended meanwhile keeps its
    final edit."""
    async with runs_repo.parent_lock(pool, run_id=run.id, wait=True):
        if not await runs_repo.in_progress(pool, team_id=run.team_id, run_id=run.id):
            return
        # if Slack refuses it, the sweep runs on and its next progress edit shows the Stop
        await show_running(client, run, running_text(run.traits, label=run.label, cost=run.cost))


async def show_running(client: AsyncWebClient, run: CalibrationRun, text: str) -> None:
    """The running sweep's parent: `text` with its Stop. Called under the parent's lock while
    the sweep runs; a refused edit is logged (the next one shows the sweep's state)."""
    assert run.channel_id is not None and run.thread_ts is not None
    try:
        await client.chat_update(
            channel=run.channel_id,
            ts=run.thread_ts,
            text=escape(text),
            blocks=running_parent(run_id=run.id, text=text),
        )
    except SlackApiError as exc:
        log.warning("could not update calibration %d: %s", run.id, exc.response.get("error"))


def trait_names(traits: Sequence[str]) -> str:
    return ", ".join(t.replace("_", " ") for t in traits)


def running_text(traits: Sequence[str], *, label: str, cost: str, progress: str = "") -> str:
    """The parent message while the sweep runs (`progress`: how far it is, if known)."""
    return f"Calibrating {trait_names(traits)} on {label}: {cost}…" + (
        f" {progress}" if progress else ""
    )


def done_text(traits: Sequence[str], *, label: str, cost: str) -> str:
    return (
        f"Calibrated {trait_names(traits)} on {label} ({cost}): figures and charts in the thread."
    )
