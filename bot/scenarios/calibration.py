"""Calibrating a trait's slider: answer a scenario's messages at each setting of one trait, every
other field fixed, `samples` times each, and have the trait judge say what it perceived.

Nothing here is stored as a test result: a calibration answers profiles that were never saved
(the swept settings), and its answers would otherwise count in the version's figures. The answer
is made as the pipeline makes it (the version's prompt and sampling, no conversation, no
knowledge, so only the slider differs between settings).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.answers.pipeline import RunContext
from bot.blocks.common import escape, truncate
from bot.domain.analysis import Analysis
from bot.domain.profile import TRAITS, ProfileFields
from bot.errors import UserError
from bot.metrics.calibration import LEVELS, Sample, calibrate, summary_lines
from bot.metrics.charts import calibration_chart
from bot.metrics.proxies import measure
from bot.model.llm import LLM, LLMError
from bot.model.trait_judge import analyse
from bot.persona.conversation import Turn, build_messages
from bot.persona.personality import build_system_prompt, sampling_for
from bot.persona.versions import resolve_version
from bot.scenarios import calibration_history, library
from bot.slack.post import post_message
from bot.slack.uploads import Upload, upload
from storage import profiles as profiles_repo

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


def _numbers(proxies: dict[str, float | int | None]) -> dict[str, float | None]:
    return {n: None if (v := proxies.get(n)) is None else float(v) for n in PROXIES}


async def _one(
    llm: LLM, *, fields: ProfileFields, question: str, context_budget_tokens: int
) -> tuple[dict[str, int], dict[str, float | None]] | None:
    sampling = sampling_for(fields)
    built = build_messages(
        system_prompt=build_system_prompt(fields),
        turns=[Turn(role="user", content=question)],
        context_budget_tokens=context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )

    async def quiet(_: str) -> None:
        return None

    try:
        completion = await llm.stream_answer(
            messages=built.messages, sampling=sampling, model=fields.model, on_text=quiet
        )
    except LLMError:
        return None
    if not completion.text.strip():
        return None
    analysis = await analyse(
        llm, fields=fields, question=question, answer=completion.text, detail=False
    )
    if not isinstance(analysis, Analysis):
        return None  # the judge gave no levels: this sample says nothing
    proxies = measure(completion.text, cut=completion.cut_off).as_dict()
    return (
        {t.trait: t.perceived for t in analysis.traits},
        {
            name: None if proxies.get(name) is None else float(proxies[name] or 0)
            for name in PROXIES
        },
    )


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


def _chart_name(trait: str, label: str) -> str:
    return "calibration-" + re.sub(r"[^\w.-]", "_", f"{trait}-{label}") + ".png"


async def start(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    words: Sequence[str],
    confirm_above: int,
    concurrency: int,
) -> str | None:
    """Say the cost (and stop there above the team's limit unless confirmed), then sweep each
    trait and post its figures and chart in a thread; what to tell the person, if anything."""
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
    cost = (
        f"{len(questions)} messages × {len(LEVELS)} settings × {args.samples} samples"
        + (f" × {len(args.traits)} traits" if len(args.traits) > 1 else "")
        + f" = {calls} model calls"
    )
    if calls > confirm_above and not args.confirmed:
        return (
            f"This calibration makes {cost}, above this workspace's limit of {confirm_above}. "
            "Add `confirm` at the end to run it, or ask fewer `samples N` or one scenario."
        )
    names = ", ".join(t.replace("_", " ") for t in args.traits)
    parent = await client.chat_postMessage(
        channel=channel_id,
        text=f"Calibrating {names} on {version.label}: {cost}…",
    )
    thread = str(parent["ts"])
    assert ctx.llm is not None  # answering() checked it
    for trait in args.traits:
        samples, lost = await sweep(
            ctx.llm,
            fields=version.fields,
            trait=trait,
            questions=questions,
            samples=args.samples,
            concurrency=concurrency,
            context_budget_tokens=ctx.context_budget_tokens,
        )
        result = calibrate(trait, samples)
        lines = summary_lines(result)
        if lost:
            lines.append(f"({lost} samples gave no levels: model error or no judge verdict)")
        recorded = await calibration_history.record(
            ctx.pool,
            team_id=team_id,
            version=version,
            scenario=scenarios[0].name if args.scenario else None,
            questions=questions,
            samples=args.samples,
            lost=lost,
            result=result,
        )
        lines += recorded.lines
        text = truncate("```" + escape("\n".join(lines)) + "```", limits.READABLE_MESSAGE_TEXT)
        await post_message(client, channel=channel_id, thread_ts=thread, text=text)
        title = f"{trait.replace('_', ' ')} on {version.label}"
        png = await asyncio.to_thread(calibration_chart, result, title=title)
        error = await upload(
            client,
            channel_id=channel_id,
            thread_ts=thread,
            files=[Upload(_chart_name(trait, version.label), png, title)],
            comment=f"Set against perceived {escape(title)}: the dashed line is the ideal.",
        )
        if error is not None:
            return error
    await client.chat_update(
        channel=channel_id,
        ts=thread,
        text=f"Calibrated {names} on {version.label} ({cost}): figures and charts in the thread.",
    )
    return None
