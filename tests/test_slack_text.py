"""Model text made safe for Slack: control sequences inert, link targets shown, Markdown kept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.text import WORD_JOINER, Dialect, neutralise, settled_length

MD, MR = Dialect.MARKDOWN, Dialect.MRKDWN
WJ = WORD_JOINER

CASES = [
    # (model text, dialect, what is posted)
    ("Hi <!channel> and <!here>", MD, "Hi &lt;!channel&gt; and &lt;!here&gt;"),
    ("<!everyone> look", MR, "&lt;!everyone&gt; look"),
    ("ask <!subteam^S0123|@support>", MD, "ask &lt;!subteam^S0123|@support&gt;"),
    (
        "ping <@U0ADMIN> in <#C0GENERAL|general>",
        MR,
        "ping &lt;@U0ADMIN&gt; in &lt;#C0GENERAL|general&gt;",
    ),
    ("read <https://evil.example|the docs>", MD, "read &lt;https://evil.example|the docs&gt;"),
    ("read <https://evil.example|the docs>", MR, "read &lt;https://evil.example|the docs&gt;"),
    ("see [the docs](https://evil.example/x)", MD, "see the docs (https://evil.example/x)"),
    ("see [the docs](https://evil.example/x)", MR, "see the docs (https://evil.example/x)"),
    (
        "[https://bank.example](https://evil.example)",
        MD,
        "https://bank.example (https://evil.example)",
    ),
    ("[https://ok.example](https://ok.example)", MD, "https://ok.example"),
    ("[ok.example](https://ok.example)", MR, "https://ok.example"),
    ('[docs](https://evil.example "Official")', MD, "docs (https://evil.example)"),
    ("![logo](https://evil.example/a.png)", MD, "logo (https://evil.example/a.png)"),
    ("[docs][1]\n\n[1]: https://evil.example", MD, "[docs] [1]\n\n1: https://evil.example"),
    ("[docs]", MD, "[docs]"),
    ("@here the answer", MD, f"@{WJ}here the answer"),
    ("tell @Channel and @everyone", MR, f"tell @{WJ}Channel and @{WJ}everyone"),
    ("mail help@here.example", MD, "mail help@here.example"),
    ("@heresy is a word", MD, "@heresy is a word"),
    ("**Bold** and *italic* and ~~gone~~", MD, "**Bold** and *italic* and ~~gone~~"),
    ("**Bold** and __this__ and ~~gone~~", MR, "*Bold* and _this_ and ~gone~"),
    ("## Steps\n1. Open\n- Click", MD, "## Steps\n1. Open\n- Click"),
    ("## Steps\n1. Open\n- Click", MR, "*Steps*\n1. Open\n- Click"),
    (
        "> quoted\n> > nested\nif a > b & c < d",
        MD,
        "> quoted\n> > nested\nif a &gt; b &amp; c &lt; d",
    ),
    ("  > indented quote", MR, "  > indented quote"),
    ("Q&A: `code` and\n```\nblock\n```", MD, "Q&amp;A: `code` and\n```\nblock\n```"),
    ("already &lt;!channel&gt;", MR, "already &amp;lt;!channel&amp;gt;"),
    ("plain text stays", MR, "plain text stays"),
    ("", MD, ""),
]


@pytest.mark.parametrize(("text", "dialect", "posted"), CASES)
def test_neutralise(text: str, dialect: Dialect, posted: str) -> None:
    assert neutralise(text, dialect=dialect) == posted


@pytest.mark.parametrize(
    ("text", "settled"),
    [
        ("Hello there", 11),
        ("see [the do", 4),
        ("see [the docs]", 4),
        ("see [the docs](https://ev", 4),
        ("see [the docs](https://evil) then", 33),
        ("look at this!", 12),
        ("tell @her", 5),
        ("a ]", 2),
        ("line one\n[", 9),
        ("[" + "x" * 400, 401),  # a bracket that never closes stops holding the stream up
    ],
)
def test_settled_length(text: str, settled: int) -> None:
    assert settled_length(text) == settled


def _streamed(text: str, cuts: list[int]) -> str:
    """What Slack shows of `text` arriving in pieces cut at `cuts`, appended as AnswerStream
    appends: the settled part of what is pending, then the rest when the stream stops."""
    shown, pending, start = "", "", 0
    for cut in [*sorted(cuts), len(text)]:
        pending += text[start:cut]
        start = cut
        settled = settled_length(pending)
        shown += neutralise(pending[:settled], dialect=MD)
        pending = pending[settled:]
    return shown + neutralise(pending, dialect=MD)


def _inert(shown: str) -> None:
    assert "<" not in shown
    assert not re.search(r"\]\(|\]\[|^ {0,3}\[[^\]]*\]:", shown, re.MULTILINE)
    assert not re.search(r"(?<![\w@.])@(here|channel|everyone)\b", shown, re.IGNORECASE)


HOSTILE = [
    "Sure! <!channel> [click here](https://evil.example) @here",
    "![x](https://evil.example/p.png) and <@U123> [a][b]\n[b]: https://evil.example",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_split_of_a_hostile_answer_stays_inert(text: str) -> None:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            _inert(_streamed(text, [i, j]))


@given(
    st.text(alphabet=st.sampled_from(list("[]()<>!@:&*#>\n a:/hereCHANNEL.x")), max_size=60),
    st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_any_text_in_any_pieces_stays_inert(text: str, cuts: list[int]) -> None:
    _inert(_streamed(text, [min(c, len(text)) for c in cuts]))
