"""Block Kit for how far the judges agree with people, and the "judge was wrong" buttons. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bot import ids, limits
from bot.blocks.common import Block, counted, mrkdwn, plain
from bot.domain.judges import (
    JUDGE_NAMES,
    LOW_KAPPA,
    MIN_LABELS,
    JudgeAgreement,
)

WARNING: Final = "⚠️ "
FLAG_TEXT: Final = "Judge wrong: "


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def agreement_text(a: JudgeAgreement) -> str:
    """One line: κ with its interval and count, the flagged share, or why there is none."""
    if a.flagged is not None:
        f = a.flagged
        if not a.enough:
            return (
                f"not enough labels to rate the judge ({counted(f.verdicts, 'verdict')} given, "
                f"{MIN_LABELS} needed)"
            )
        interval = "" if f.low is None or f.high is None else f" ({_pct(f.low)}–{_pct(f.high)})"
        line = (
            f"people flagged {f.flagged} of {f.verdicts} verdicts as wrong: "
            f"{_pct(f.share or 0.0)}{interval}, a floor on its error rate (κ needs both "
            "agree and disagree labels; flags give only disagreements)"
        )
        return (WARNING + line) if a.warning else line
    k = a.kappa
    if k is None or not a.enough:
        got = 0 if k is None else k.labels
        return f"not enough labels to rate the judge ({got} of {MIN_LABELS})"
    if k.value is None or k.low is None or k.high is None:
        return (
            f"κ n/a over {counted(k.labels, 'label')}: the judge or the people always gave "
            "the same answer"
        )
    line = (
        f"judge agrees with your team κ = {k.value:.2f} ({k.low:.2f}–{k.high:.2f}) "
        f"over {counted(k.labels, 'label')}"
    )
    if a.warning:
        return f"{WARNING}{line}: below {LOW_KAPPA}, treat its verdicts with care"
    return line


def agreement_lines(judges: Sequence[JudgeAgreement]) -> str:
    return "\n".join(f"*{JUDGE_NAMES[a.judge]}*: {agreement_text(a)}" for a in judges)


def agreement_note(a: JudgeAgreement | None, *, named: bool = False) -> Block | None:
    """The context line shown next to a judge's verdict; `named` starts it with the judge's
    name, where a message shows the verdicts of more than one judge."""
    if a is None:
        return None
    text = agreement_text(a)
    if named:
        text = f"{JUDGE_NAMES[a.judge]}: {text}"
    return {"type": "context", "elements": [mrkdwn(text, limits.SECTION_FIELD_TEXT)]}


def agreement_section(judges: Sequence[JudgeAgreement]) -> Block:
    text = (
        "*How far the judges agree with your team* (the whole workspace; Cohen's κ with its "
        "95% interval, for behaviours the share flagged wrong)\n" + agreement_lines(judges)
    )
    # a context block: the judges are a note under the figures, not one of them
    return {"type": "context", "elements": [mrkdwn(text, limits.SECTION_TEXT)]}


def flag_value(result_id: int, index: int) -> str:
    return json.dumps({"r": result_id, "b": index}, separators=(",", ":"))


def flaggable(verdict: Mapping[str, Any]) -> bool:
    """A judge's pass/fail verdict; code-checked behaviours (no score) and unjudged ones are
    not the judge's."""
    return isinstance(verdict.get("passed"), bool) and verdict.get("score") is not None


def flag_buttons(result_id: int, verdicts: Sequence[Mapping[str, Any]]) -> Block | None:
    """One "Judge wrong: <behaviour>" button per judge verdict; clicking again takes it back."""
    elements = [
        {
            "type": "button",
            "action_id": f"{ids.JUDGE_WRONG}_{i}",
            "text": plain(FLAG_TEXT + str(v.get("behaviour", "")), limits.BUTTON_TEXT),
            "value": flag_value(result_id, i),
        }
        for i, v in enumerate(verdicts)
        if flaggable(v)
    ][: limits.ACTIONS_ELEMENTS]
    if not elements:
        return None
    return {"type": "actions", "elements": elements}


def judge_blocks(
    result_id: int, verdicts: Sequence[Mapping[str, Any]], judge: JudgeAgreement | None
) -> list[Block]:
    """Under a scenario answer's verdicts: how far the judge agrees with the team, then the
    "Judge wrong" buttons; nothing when no verdict is the judge's."""
    buttons = flag_buttons(result_id, verdicts)
    if buttons is None:
        return []
    note = agreement_note(judge, named=True)
    return [buttons] if note is None else [note, buttons]
