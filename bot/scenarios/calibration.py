"""Calibrating a trait's slider: answer a scenario's messages at each setting of one trait, every
other field fixed, `samples` times each, and have the trait judge say what it perceived.

Nothing here is stored as a test result: a calibration answers profiles that were never saved
(the swept settings), and its answers would otherwise count in the version's figures. The answer
is made as the pipeline makes it (the version's prompt and sampling, no conversation, no
knowledge, so only the slider differs between settings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Final

from bot.domain.analysis import Analysis
from bot.domain.profile import TRAITS, ProfileFields
from bot.metrics.calibration import LEVELS, Sample
from bot.metrics.proxies import measure
from bot.model.llm import LLM, LLMError
from bot.model.trait_judge import analyse
from bot.persona.conversation import Turn, build_messages
from bot.persona.personality import build_system_prompt, sampling_for

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
