"""Block Kit for scenarios: the list, the form, run progress, the summary, per-answer messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from bot import ids, limits
from bot.blocks.answer import seconds
from bot.blocks.common import (
    TABLE_ROWS,
    Block,
    counted,
    escape,
    metadata,
    metadata_id,
    mrkdwn,
    plain,
    report_failed_parent,
    split_text,
    stop_button,
    stopped_parent,
    table,
    truncate,
)
from bot.blocks.judges import agreement_note, judge_blocks
from bot.blocks.stats import percent
from bot.domain.judges import JudgeAgreement
from bot.domain.results import TestResult
from bot.domain.scenarios import (
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    NAME_MAX,
    NO_DETECTABLE_CHANGE,
    Figures,
    LastRun,
    Scenario,
)
from bot.domain.truncation import CUT_MARK, cut_note
from bot.slack.text import Dialect, neutralise

ANSWER_SECTIONS_MAX = 8
MESSAGES_SHOWN = 5


def scenario_list(
    scenarios: Sequence[Scenario], last: dict[int, LastRun]
) -> tuple[str, list[Block]]:
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Test scenarios ({len(scenarios)})", limits.HEADER_TEXT)}
    ]
    room = limits.BLOCKS_PER_MESSAGE - 3
    for s in scenarios[:room]:
        shown = "\n".join(f"• {escape(truncate(m, 150))}" for m in s.messages[:MESSAGES_SHOWN])
        if len(s.messages) > MESSAGES_SHOWN:
            shown += f"\n• _…and {len(s.messages) - MESSAGES_SHOWN} more_"
        expected = ", ".join(escape(b) for b in s.behaviours) or "_none_"
        run = last.get(s.id)
        last_line = (
            f"{run.passed}/{run.total} behaviours passed on {escape(run.version_label)}"
            if run is not None and run.total
            else (f"ran on {escape(run.version_label)}" if run is not None else "never run")
        )
        text = (
            f"*{escape(s.name)}* — {escape(s.description) or '_no description_'}\n{shown}\n"
            f"_Expected:_ {expected}\n_Last run:_ {last_line}"
        )
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(text, limits.SECTION_TEXT),
                "accessory": {
                    "type": "button",
                    "action_id": ids.SCENARIO_RUN,
                    "text": plain("Run", limits.BUTTON_TEXT),
                    "value": str(s.id),
                },
            }
        )
    if len(scenarios) > room:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(f"…and {counted(len(scenarios) - room, 'more scenario')}", 200)
                ],
            }
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": ids.SCENARIO_RUN_ALL,
                    "text": plain("Run all", limits.BUTTON_TEXT),
                    "value": "all",
                }
            ],
        }
    )
    return counted(len(scenarios), "test scenario"), blocks


@dataclass(frozen=True, slots=True)
class FormContext:
    scenario_id: int | None
    channel_id: str
    response_url: str | None

    def dump(self) -> str:
        return metadata({"id": self.scenario_id, "c": self.channel_id, "r": self.response_url})

    @classmethod
    def load(cls, raw: str) -> FormContext:
        data = json.loads(raw)
        sid = data.get("id")
        return cls(None if sid is None else metadata_id(sid), str(data["c"]), data.get("r"))


def _text_input(
    block_id: str,
    label: str,
    initial: str,
    *,
    max_length: int,
    multiline: bool,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": block_id + ids.INPUT_SUFFIX,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = truncate(initial, max_length)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, limits.INPUT_LABEL),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, limits.INPUT_LABEL)
    return block


def scenario_form(scenario: Scenario | None, *, context: FormContext) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.SCENARIO_MODAL,
        "title": plain("Edit scenario" if scenario else "New scenario", limits.MODAL_TITLE),
        "submit": plain("Save", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": context.dump(),
        "blocks": [
            _text_input(
                ids.SCENARIO_NAME,
                "Name",
                scenario.name if scenario else "",
                max_length=NAME_MAX,
                multiline=False,
            ),
            _text_input(
                ids.SCENARIO_DESCRIPTION,
                "Description",
                scenario.description if scenario else "",
                max_length=DESCRIPTION_MAX,
                multiline=False,
                optional=True,
            ),
            _text_input(
                ids.SCENARIO_MESSAGES,
                "Customer messages",
                "\n".join(scenario.messages) if scenario else "",
                max_length=limits.PLAIN_TEXT_INPUT_MAX,
                multiline=True,
                hint=f"One message per line, 1 to 20 (each up to {MESSAGE_MAX:,} chars).",
            ),
            _text_input(
                ids.SCENARIO_BEHAVIOURS,
                "Expected behaviours",
                "\n".join(scenario.behaviours) if scenario else "",
                max_length=limits.PLAIN_TEXT_INPUT_MAX,
                multiline=True,
                optional=True,
                hint="Short phrases, one per line or comma-separated, up to 10: "
                "e.g. empathetic, offers a next step",
            ),
        ],
    }


def read_form(view: dict[str, Any]) -> dict[str, str | None]:
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    return {
        block_id: (actions.get(block_id + ids.INPUT_SUFFIX) or {}).get("value")
        for block_id, actions in values.items()
    }


def progress_text(
    *,
    run_id: int,
    label: str,
    names: Sequence[str],
    done: int,
    total: int,
    failed: int = 0,
    running: int = 0,
    waiting: int = 0,
    left_s: float | None = None,
    unconfirmed: int = 0,
) -> str:
    """`failed` of the `done`, the queue's `running` and `waiting` jobs, and an estimate of the
    time left, when known; `unconfirmed`: thread posts the app could not check (see summary)."""
    queue = [f"{failed} failed"] if failed else []
    queue += [f"{counted(unconfirmed, 'post')} not confirmed"] if unconfirmed else []
    queue += [f"{running} running"] if running else []
    queue += [f"{waiting} waiting"] if waiting else []
    estimate = "" if left_s is None else f", about {_duration(left_s)} left"
    return (
        f"Scenario run #{run_id} on *{escape(label)}*: {escape(', '.join(names))} — "
        f"{done}/{total} answered" + (f" ({', '.join(queue)})" if queue else "") + estimate + "…"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


def progress_message(
    *,
    run_id: int,
    label: str,
    names: Sequence[str],
    done: int,
    total: int,
    failed: int = 0,
    running: int = 0,
    waiting: int = 0,
    left_s: float | None = None,
    unconfirmed: int = 0,
) -> tuple[str, list[Block]]:
    """The parent while a run goes on. Its Resume button is for after a crash: the message then
    stays like this, and the button answers what is missing (a running run says so)."""
    text = progress_text(
        run_id=run_id,
        label=label,
        names=names,
        done=done,
        total=total,
        failed=failed,
        running=running,
        waiting=waiting,
        left_s=left_s,
        unconfirmed=unconfirmed,
    )
    return text, [
        {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)},
        {
            "type": "context",
            "elements": [mrkdwn("If this stops moving, the run was interrupted:", 200)],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.SCENARIO_RERUN,
                    "text": plain("Resume", limits.BUTTON_TEXT),
                    "value": str(run_id),
                },
                stop_button(ids.SCENARIO_STOP, run_id),
            ],
        },
    ]


def report_failed_message(
    *, run_id: int, label: str, names: Sequence[str], total: int, reason: str
) -> tuple[str, list[Block]]:
    """Every message answered, the summary not written: Resume writes it (nothing is asked
    again)."""
    return report_failed_parent(
        what="Scenario run",
        run_id=run_id,
        label=label,
        names=names,
        finished=f"all {counted(total, 'message')} answered",
        reason=reason,
        action_id=ids.SCENARIO_RERUN,
        button="Resume",
        hint="Resume writes it from the stored answers; nothing is asked again.",
    )


def stopped_message(
    *, run_id: int, label: str, names: Sequence[str], user_id: str, done: int, total: int
) -> tuple[str, list[Block]]:
    """The parent of a run someone stopped: its last state, and no buttons (it is not resumed)."""
    return stopped_parent(
        what="Scenario run",
        run_id=run_id,
        label=label,
        names=names,
        user_id=user_id,
        after=f"{done} of {total} messages",
    )


def _num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "n/a" if value is None else fmt.format(value)


FLAKY_SHOWN = 3


def _between(low: float | None, high: float | None, fmt: str) -> str:
    # a figure from fewer than two samples has no interval, and shows none
    return "" if low is None or high is None else f" [{fmt.format(low)}–{fmt.format(high)}]"


def figures_text(f: Figures) -> str:
    if f.repeat > 1:
        return _sampled_text(f)
    behaviours = (
        f"{f.passed}/{counted(f.judged, 'behaviour')} passed"
        if f.judged
        else "no behaviours judged"
    )
    if f.judged and f.unjudged:
        behaviours += f", {f.unjudged} not judged"
    failed = f" ({f.failed} failed)" if f.failed else ""
    return (
        f"{counted(f.messages, 'message')}{failed} · {behaviours} · "
        f"alignment {_num(f.mean_alignment)} · "
        f"median {seconds(f.median_ms)}, slowest {seconds(f.slowest_ms)} · "
        f"{_num(f.tokens, '{:,.0f}')} tokens"
    )


def _sampled_text(f: Figures) -> str:
    """Figures of repeated samples, each with its 95% interval (Wilson for the pass rate, t for
    the mean alignment), pass^k and the behaviours that were flaky."""
    behaviours = "no behaviours judged"
    if f.judged:
        behaviours = (
            f"{f.passed}/{counted(f.judged, 'behaviour')} passed, {percent(f.pass_rate)}"
            + _between(f.pass_low, f.pass_high, "{:.0%}")
            + f" · pass^{f.repeat} {percent(f.pass_k)}"
        )
        if f.unjudged:
            behaviours += f" · {f.unjudged} not judged"
    failed = f" ({f.failed} failed)" if f.failed else ""
    text = (
        f"{counted(f.messages, 'answer')}{failed}, {f.repeat} samples per message · {behaviours} · "
        f"alignment {_num(f.mean_alignment)}"
        + _between(f.alignment_low, f.alignment_high, "{:.0f}")
        + f" · median {seconds(f.median_ms)}, slowest {seconds(f.slowest_ms)} · "
        f"{_num(f.tokens, '{:,.0f}')} tokens"
    )
    if f.flaky:
        shown = "; ".join(escape(truncate(item, 120)) for item in f.flaky[:FLAKY_SHOWN])
        more = f" and {len(f.flaky) - FLAKY_SHOWN} more" if len(f.flaky) > FLAKY_SHOWN else ""
        text += f"\n:warning: flaky (passed in some samples, failed in others): {shown}{more}"
    return text


@dataclass(frozen=True, slots=True)
class RunComparison:
    before: Figures
    version_label: str
    run_id: int
    arrows: dict[str, str | None]


def comparison_text(c: RunComparison, now: Figures) -> str:
    def part(key: str, label: str, before: str, current: str) -> str:
        mark = c.arrows.get(key)
        if mark == NO_DETECTABLE_CHANGE:
            return f"{label}: no detectable change ({before} → {current})"
        return f"{label} {mark} ({before} → {current})" if mark else f"{label} n/a"

    return f"vs run #{c.run_id} on {escape(c.version_label)}: " + " · ".join(
        [
            part("pass_rate", "pass rate", percent(c.before.pass_rate), percent(now.pass_rate)),
            part(
                "mean_alignment",
                "alignment",
                _num(c.before.mean_alignment),
                _num(now.mean_alignment),
            ),
            part("median_ms", "median time", seconds(c.before.median_ms), seconds(now.median_ms)),
            part("slowest_ms", "slowest", seconds(c.before.slowest_ms), seconds(now.slowest_ms)),
            part("tokens", "tokens", _num(c.before.tokens, "{:,.0f}"), _num(now.tokens, "{:,.0f}")),
        ]
    )


def summary(
    *,
    run_id: int,
    label: str,
    scenarios: Sequence[tuple[int, Figures]],
    total: Figures,
    comparisons: dict[int, RunComparison],
    unconfirmed: int = 0,
) -> tuple[str, list[Block]]:
    """`unconfirmed`: thread posts whose claim lapsed where the app could not read the thread
    to check whether they went out; they were not sent again, and the summary says how many."""
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Scenario run #{run_id}: {label}", limits.HEADER_TEXT)},
        summary_table(scenarios, total),
    ]
    # header, table, divider, overall, context (and the unconfirmed note) around the sections
    room = limits.BLOCKS_PER_MESSAGE - 5 - (1 if unconfirmed else 0)
    for sid, f in scenarios[:room]:
        text = f"*{escape(f.name)}*\n{figures_text(f)}"
        if sid in comparisons:
            text += "\n" + comparison_text(comparisons[sid], f)
        else:
            text += "\n_first run of this scenario on this profile_"
        blocks.append({"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)})
    blocks += [
        {"type": "divider"},
        {
            "type": "section",
            "text": mrkdwn(f"*Overall*\n{figures_text(total)}", limits.SECTION_TEXT),
        },
        {
            "type": "context",
            "elements": [mrkdwn("Each answer, its verdicts and timing are in the thread.", 200)],
        },
    ]
    if unconfirmed:
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(unconfirmed_text(unconfirmed), 400)],
            }
        )
    fallback = f"Scenario run #{run_id} on {label}: {figures_text(total)}"
    return truncate(fallback, limits.READABLE_MESSAGE_TEXT), blocks[: limits.BLOCKS_PER_MESSAGE]


def unconfirmed_text(count: int) -> str:
    return (
        f":warning: {counted(count, 'answer')} could not be confirmed in the thread: Slack "
        "refused the post, or the app could not read the thread to check whether an "
        "interrupted post went out, so it was not sent again (the figures are counted above). "
        "Invite the app to the channel, with access to its history, to avoid this."
    )


SUMMARY_COLUMNS: Final = (
    "Scenario",
    "Messages",
    "Failed",
    "Behaviours passed",
    "Pass rate",
    "Alignment",
    "Median",
    "Slowest",
    "Tokens",
)


def summary_table(scenarios: Sequence[tuple[int, Figures]], total: Figures) -> Block:
    """The run's scenarios side by side in Slack's table block (at most 100 rows with the header
    and the overall row; the sections below keep every scenario's detail and comparison); n/a
    where nothing was measured. A workspace that refuses tables gets the message without it."""
    rows = []
    for f in [*(f for _, f in scenarios[: TABLE_ROWS - 2]), replace(total, name="Overall")]:
        rows.append(
            [
                f.name,
                str(f.messages),
                str(f.failed),
                f"{f.passed}/{f.judged}" if f.judged else "n/a",
                percent(f.pass_rate),
                _num(f.mean_alignment),
                seconds(f.median_ms),
                seconds(f.slowest_ms),
                _num(f.tokens, "{:,.0f}"),
            ]
        )
    return table(list(SUMMARY_COLUMNS), rows, right=frozenset(range(1, len(SUMMARY_COLUMNS))))


def _verdict_line(v: dict[str, Any]) -> str:
    # the reason is the judge model's words
    name = escape(str(v["behaviour"]))
    reason = neutralise(str(v.get("reason", "")), dialect=Dialect.MRKDWN)
    if v.get("passed") is None:
        return f"➖ {name}: {reason}"
    mark = "✅" if v["passed"] else "❌"
    # a behaviour checked in code ("complete answer") has no judge's score
    score = "" if v.get("score") is None else f" ({v['score']})"
    return f"{mark} {name}{score}: {reason}"


def item_message(
    result: TestResult,
    *,
    judge: JudgeAgreement | None = None,
    traits_judge: JudgeAgreement | None = None,
) -> tuple[str, list[Block]]:
    """One thread message per scenario message: the answer, the verdicts (with how far the
    behaviours judge agrees with the team, and a "Judge wrong" button each), alignment, time."""
    head = f"*{escape(result.scenario_name or '')}* — _{escape(truncate(result.question, 300))}_"
    blocks: list[Block] = [{"type": "section", "text": mrkdwn(head, limits.SECTION_TEXT)}]
    if result.error_kind and not result.answer:
        blocks.append(
            {"type": "section", "text": mrkdwn(f":warning: {escape(result.error or '')}", 3000)}
        )
        return f"Failed: {result.question}"[:3000], blocks
    answer = neutralise(result.answer, dialect=Dialect.MRKDWN)
    pieces = [p for p in split_text(answer, limits.SECTION_TEXT) if p.strip()]
    for piece in pieces[:ANSWER_SECTIONS_MAX]:
        blocks.append({"type": "section", "text": mrkdwn(piece, limits.SECTION_TEXT)})
    if len(pieces) > ANSWER_SECTIONS_MAX:
        blocks.append(
            {"type": "context", "elements": [mrkdwn("_(answer truncated to fit Slack)_", 100)]}
        )
    if result.behaviour_results:
        lines = "\n".join(_verdict_line(v) for v in result.behaviour_results)
        blocks.append({"type": "section", "text": mrkdwn(lines, limits.SECTION_TEXT)})
        blocks += judge_blocks(result.id, result.behaviour_results, judge)
    alignment = (
        f"alignment {result.alignment:.0f}/100" if result.alignment is not None else "alignment n/a"
    )
    status = " · ⚠️ interrupted" if result.interrupted else ""
    if result.cut_off:
        status += f" · {CUT_MARK} {cut_note(result.token_limit)}"
    if result.knowledge_given:
        status += f" · knowledge given {', '.join(result.knowledge_given)}; relied on "
        if result.knowledge_used is None:
            status += "not judged"
        else:
            status += ", ".join(result.knowledge_used) or "none"
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"{alignment} · {seconds(result.total_ms)} total, first token "
                    f"{seconds(result.ttft_ms)}{status}",
                    500,
                )
            ],
        }
    )
    if result.alignment is not None and (note := agreement_note(traits_judge, named=True)):
        blocks.append(note)
    return truncate(answer, limits.READABLE_MESSAGE_TEXT), blocks


# a collapsed message shows the first failing sample's answer up to this long
SAMPLE_ANSWER_CHARS = 1500


def _failed(result: TestResult) -> bool:
    """The sample failed: an error without an answer, or a behaviour judged as failed."""
    if result.error_kind and not result.answer:
        return True
    return any(v.get("passed") is False for v in result.behaviour_results or [])


def samples_message(results: Sequence[TestResult]) -> tuple[str, list[Block]]:
    """One thread message for every sample of one scenario message (a run with repeat > 1),
    instead of one per sample: per behaviour how many samples passed of those judged (flaky
    when some passed and some failed), the samples that failed with an error, alignment and
    time over the samples, and the first failing sample's answer with its verdicts (else the
    first sample's). A handful of blocks whatever the repeat."""
    first = results[0]
    n = len(results)
    head = (
        f"*{escape(first.scenario_name or '')}* — _{escape(truncate(first.question, 300))}_ · "
        f"{n} samples"
    )
    blocks: list[Block] = [{"type": "section", "text": mrkdwn(head, limits.SECTION_TEXT)}]
    tally: dict[str, list[int]] = {}
    for r in results:
        for v in r.behaviour_results or []:
            counts = tally.setdefault(str(v["behaviour"]), [0, 0, 0])  # passed, judged, not
            if v.get("passed") is None:
                counts[2] += 1
            else:
                counts[1] += 1
                counts[0] += 1 if v["passed"] else 0
    lines = []
    for name, (passed, judged, unjudged) in tally.items():
        if judged == 0:
            mark = "➖"
        elif passed == judged:
            mark = "✅"
        elif passed == 0:
            mark = "❌"
        else:
            mark = "〰️"
        rate = f"{passed}/{judged} passed ({passed / judged:.0%})" if judged else "not judged"
        flaky = " · *flaky*" if 0 < passed < judged else ""
        apart = f" · {unjudged} not judged" if unjudged and judged else ""
        lines.append(f"{mark} {escape(name)}: {rate}{flaky}{apart}")
    errors = sum(1 for r in results if r.error_kind and not r.answer)
    if errors:
        lines.append(f":warning: {counted(errors, 'sample')} failed without an answer")
    if lines:
        blocks.append({"type": "section", "text": mrkdwn(truncate("\n".join(lines), 3000), 3000)})
    failing = next(((i, r) for i, r in enumerate(results) if _failed(r)), None)
    index, shown = failing if failing is not None else (0, first)
    label = "First failing sample" if failing is not None else "First sample"
    if shown.error_kind and not shown.answer:
        body = f":warning: {escape(shown.error or '')}"
    else:
        body = neutralise(truncate(shown.answer, SAMPLE_ANSWER_CHARS), dialect=Dialect.MRKDWN)
    blocks.append(
        {
            "type": "section",
            "text": mrkdwn(
                truncate(f"_{label} (#{index + 1}):_\n{body}", limits.SECTION_TEXT),
                limits.SECTION_TEXT,
            ),
        }
    )
    failed_verdicts = [v for v in shown.behaviour_results or [] if v.get("passed") is False]
    if failed_verdicts:
        text = "\n".join(_verdict_line(v) for v in failed_verdicts)
        blocks.append({"type": "section", "text": mrkdwn(truncate(text, 3000), 3000)})
    aligned = [r.alignment for r in results if r.alignment is not None]
    times = sorted(r.total_ms for r in results if r.total_ms is not None)
    alignment = (
        f"alignment {min(aligned):.0f}–{max(aligned):.0f}/100" if aligned else "alignment n/a"
    )
    median = seconds(times[len(times) // 2]) if times else "n/a"
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"{alignment} over the samples · median {median} total",
                    500,
                )
            ],
        }
    )
    text = f"{first.scenario_name}: {first.question} ({n} samples)"
    return truncate(text, limits.READABLE_MESSAGE_TEXT), blocks
