"""Block Kit for test answers: the parent message, the metrics footer and the details view. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import ids, limits
from bot.blocks.common import Block, counted, escape, mrkdwn, plain, truncate
from bot.blocks.judges import agreement_note
from bot.domain.analysis import Analysis
from bot.domain.judges import JudgeAgreement
from bot.domain.knowledge import KnowledgeItem, describe
from bot.domain.profile import TRAIT_LABELS
from bot.domain.results import FeedbackTally, TestResult
from bot.domain.truncation import CUT_MARK, cut_note
from bot.slack.text import Dialect, neutralise

QUESTION_PREVIEW = 2500
PROXY_LABELS = {
    "exclamations_per_sentence": ("Exclamations per sentence", "{:.2f}"),
    "contractions_per_100_words": ("Contractions per 100 words", "{:.1f}"),
    "mean_sentence_length": ("Mean sentence length (words)", "{:.1f}"),
    "reading_grade": ("Reading grade (Flesch–Kincaid)", "{:.1f}"),
    "emoji_count": ("Emoji", "{:.0f}"),
    "question_count": ("Questions asked", "{:.0f}"),
    "word_count": ("Words", "{:.0f}"),
}


def proxy_value(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape(text).splitlines() or [""])


def parent_text(*, label: str, user_id: str, question: str) -> str:
    return (
        f"Test of *{escape(label)}* requested by <@{user_id}>:\n"
        f"{quote(truncate(question, QUESTION_PREVIEW))}"
    )


def seconds(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms / 1000:.1f} s"


def analysis_of(result: TestResult) -> Analysis | None:
    return Analysis.from_json(result.analysis) if result.analysis else None


def alignment_summary(result: TestResult) -> str:
    analysis = analysis_of(result)
    if analysis is not None:
        worst = max(analysis.traits, key=lambda t: abs(t.difference))
        summary = f"alignment *{analysis.alignment:.0f}/100*"
        if worst.difference != 0:
            summary += (
                f" (largest gap: {worst.label.lower()}, target {worst.target}, "
                f"came across as {worst.perceived})"
            )
        return summary
    if result.analysis_error:
        return "alignment n/a (analysis unavailable)"
    return "alignment: analysing…"


def metrics_line(result: TestResult) -> str:
    tokens = (
        f"{result.prompt_tokens} in / {result.completion_tokens} out tokens"
        if result.prompt_tokens is not None and result.completion_tokens is not None
        else "tokens n/a"
    )
    confidence = "n/a" if result.confidence is None else f"{result.confidence:.0%}"
    parts = [
        f"⏱ {seconds(result.total_ms)} total, first token {seconds(result.ttft_ms)}",
        tokens,
        # the model's name as the endpoint reported it
        f"model {neutralise(result.model or 'n/a', dialect=Dialect.MRKDWN)}",
        f"confidence {confidence}",
        alignment_summary(result),
    ]
    if result.cut_off:
        parts.insert(0, f"{CUT_MARK} {cut_note(result.token_limit)}")
    if result.interrupted:
        parts.insert(0, "⚠️ interrupted")
    if result.dropped_turns:
        parts.append(f"{counted(result.dropped_turns, 'oldest turn')} left out to fit the context")
    return " · ".join(parts)


def _tally_text(tally: FeedbackTally) -> str:
    parts = [f"👍 {tally.up}" if tally.up else "", f"👎 {tally.down}" if tally.down else ""]
    return " · ".join(p for p in parts if p)


def footer(
    result: TestResult, tally: FeedbackTally, *, native: bool = False
) -> tuple[str, list[Block]]:
    """The metrics line, Details, Save as scenario and 👍 / 👎. `native`: Slack's
    feedback_buttons element in a context_actions block (its buttons carry no counts, so the
    counts join the metrics line); otherwise today's buttons, for workspaces that refuse it."""
    line = metrics_line(result)
    value = str(result.id)
    details = {
        "type": "button",
        "action_id": ids.ANSWER_DETAILS,
        "text": plain("Details", limits.BUTTON_TEXT),
        "value": value,
    }
    # the whole conversation so far, as a scenario (bot/scenarios/from_thread.py)
    save = {
        "type": "button",
        "action_id": ids.ANSWER_SAVE_SCENARIO,
        "text": plain("Save as scenario", limits.BUTTON_TEXT),
        "value": value,
    }
    if native:
        counts = _tally_text(tally)
        shown = f"{line} · {counts}" if counts else line
        blocks: list[Block] = [
            {"type": "context", "elements": [mrkdwn(shown, 2000)]},
            {"type": "actions", "elements": [details, save]},
            {
                "type": "context_actions",
                "elements": [
                    {
                        "type": "feedback_buttons",
                        "action_id": ids.ANSWER_FEEDBACK,
                        "positive_button": {
                            "text": plain("👍", limits.BUTTON_TEXT),
                            "value": f"{value}:{ids.FEEDBACK_UP}",
                            "accessibility_label": "Good answer",
                        },
                        "negative_button": {
                            "text": plain("👎", limits.BUTTON_TEXT),
                            "value": f"{value}:{ids.FEEDBACK_DOWN}",
                            "accessibility_label": "Bad answer",
                        },
                    }
                ],
            },
        ]
        return truncate(line, limits.READABLE_MESSAGE_TEXT), blocks
    blocks = [
        {"type": "context", "elements": [mrkdwn(line, 2000)]},
        {
            "type": "actions",
            "elements": [
                details,
                {
                    "type": "button",
                    "action_id": ids.ANSWER_UP,
                    "text": plain(f"👍 {tally.up}" if tally.up else "👍", limits.BUTTON_TEXT),
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": ids.ANSWER_DOWN,
                    "text": plain(f"👎 {tally.down}" if tally.down else "👎", limits.BUTTON_TEXT),
                    "value": value,
                },
                save,
            ],
        },
    ]
    return truncate(line, limits.READABLE_MESSAGE_TEXT), blocks


def knowledge_lines(result: TestResult, items: Sequence[KnowledgeItem]) -> str | None:
    """Which knowledge went to the model and which the answer relied on (judged, then checked
    against the answer's wording)."""
    if not result.knowledge_given:
        return None
    by_ref = {i.ref: i for i in items}
    given = ", ".join(f"`{r}`" for r in result.knowledge_given)
    used = result.knowledge_used
    if used is None:
        relied = "not judged"
    elif not used:
        relied = "none"
    else:
        relied = "\n".join(
            f"• `{r}` {escape(truncate(describe(by_ref[r]), 200))}" if r in by_ref else f"• `{r}`"
            for r in used
        )
    return f"*Knowledge given to the model:* {given}\n*Relied on:* {relied}"


def _judged(text: str) -> str:
    """The judge model's words, as safe as an answer's."""
    return neutralise(text, dialect=Dialect.MRKDWN)


def details_view(
    result: TestResult,
    *,
    label: str,
    knowledge: Sequence[KnowledgeItem] = (),
    judge: JudgeAgreement | None = None,
) -> dict[str, Any]:
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(f"*{escape(label)}*\n{metrics_line(result)}", limits.SECTION_TEXT),
        },
        {"type": "divider"},
    ]
    analysis = analysis_of(result)
    if analysis is None:
        reason = result.analysis_error or "The analysis is still running; open Details again soon."
        blocks.append({"type": "section", "text": mrkdwn(escape(reason), limits.SECTION_TEXT)})
    else:
        blocks.append(
            {
                "type": "header",
                "text": plain(f"Personality alignment {analysis.alignment:.1f}/100", 150),
            }
        )
        for t in analysis.traits:
            sign = f"{t.difference:+d}" if t.difference else "±0"
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(
                        f"*{TRAIT_LABELS.get(t.trait, t.trait)}*: target {t.target}, "
                        f"came across as {t.perceived} ({sign})\n_{_judged(t.reason)}_",
                        limits.SECTION_TEXT,
                    ),
                }
            )
        if analysis.suggestions:
            tips = "\n".join(f"• {_judged(s)}" for s in analysis.suggestions[:3])
            blocks.append(
                {"type": "section", "text": mrkdwn(f"*Suggestions*\n{tips}", limits.SECTION_TEXT)}
            )
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"judged by {_judged(analysis.judge_model)}", 200)],
            }
        )
        note = agreement_note(judge)
        if note is not None:
            blocks.append(note)
    sources = knowledge_lines(result, knowledge)
    if sources:
        blocks += [
            {"type": "divider"},
            {"type": "section", "text": mrkdwn(sources, limits.SECTION_TEXT)},
        ]
    if result.proxies:
        lines = [
            f"{name}: {proxy_value(result.proxies[key], fmt)}"
            for key, (name, fmt) in PROXY_LABELS.items()
            if key in result.proxies
        ]
        if result.cut_off:
            lines.append("_Cut off: per-sentence figures count its complete sentences only._")
        blocks += [
            {"type": "divider"},
            {
                "type": "section",
                "text": mrkdwn(
                    "*Style measured in the text*\n" + "\n".join(lines), limits.SECTION_TEXT
                ),
            },
        ]
    return {
        "type": "modal",
        "callback_id": ids.DETAILS_MODAL,
        "title": plain("Answer details", limits.MODAL_TITLE),
        "close": plain("Close", limits.MODAL_BUTTON),
        "blocks": blocks[: limits.BLOCKS_PER_VIEW],
    }
