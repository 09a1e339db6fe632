"""Every parse error names the command the person typed, and a profile named last works in every
knowledge command as it does in the rest; counts read "1 bot profile", not "1 bot profiles"."""

from __future__ import annotations

import pytest

from bot.blocks.common import counted
from bot.errors import UserError
from commands.ab import parse_messages
from commands.parse import quoted, trailing_profile
from tests.slack_driver import SlackDriver

U = "usage"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("Billing questions", None),
        ('"a"', (["a"], "")),
        ('"a" "b" Support', (["a", "b"], "Support")),
        ("“curly” “quotes”", (["curly", "quotes"], "")),
        ('"a" x "b"', U),
        ('"a" ""', U),
        ('"a" "b', U),
        ('""', U),
    ],
)
def test_quoted(raw: str, expected: tuple[list[str], str] | str | None) -> None:
    if expected == U:
        with pytest.raises(UserError, match=r"^usage$"):
            quoted(raw, usage=U)
    else:
        assert quoted(raw, usage=U) == expected


@pytest.mark.parametrize(
    ("leading", "rest", "expected"),
    [(None, "", None), ("A", "", "A"), (None, "B", "B"), (None, "@B", "B"), ("A", "B", U)],
)
def test_trailing_profile(leading: str | None, rest: str, expected: str | None) -> None:
    if expected == U:
        with pytest.raises(UserError):
            trailing_profile(leading, rest, usage=U)
    else:
        assert trailing_profile(leading, rest, usage=U) == expected
    with pytest.raises(UserError):
        trailing_profile(None, "two words", usage=U)


@pytest.mark.parametrize(
    ("n", "noun", "plural", "text"),
    [
        (0, "bot profile", None, "0 bot profiles"),
        (1, "bot profile", None, "1 bot profile"),
        (2, "vote", None, "2 votes"),
        (1, "more decisive vote", None, "1 more decisive vote"),
        (3, "analysis", "analyses", "3 analyses"),
    ],
)
def test_counted(n: int, noun: str, plural: str | None, text: str) -> None:
    assert counted(n, noun, plural) == text


@pytest.fixture
async def two(driver: SlackDriver) -> SlackDriver:
    await driver.reply_text("new Support")
    await driver.reply_text("new Sales")
    return driver


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('knowledge add faq "Q?" "A." Sales', "to the knowledge of *Sales v2*"),
        ('knowledge @Sales add faq "Q?" "A."', "to the knowledge of *Sales v2*"),
        (
            'knowledge add policy "Refunds in 30 days" Sales',
            "Added `P1` to the knowledge of *Sales",
        ),
        ("knowledge remove P1 Support", "Removed `P1` from the knowledge of *Support v2*"),
        ("knowledge show Sales", "*Sales v1* has no company knowledge"),
        ('knowledge add faq "Q?" Support', 'Usage: `/bot knowledge add faq "question" "answer"'),
        ('knowledge add faq "Q?" x "A."', 'Usage: `/bot knowledge add faq "question" "answer"'),
        ('knowledge add faq "Q?" "A." Sales more', "Usage: `/bot knowledge add faq"),
        ('knowledge @Support add faq "Q?" "A." Sales', "Usage: `/bot knowledge add faq"),
        ("knowledge add policy text", 'Usage: `/bot knowledge add policy "text" [profile]`'),
        ("knowledge @Support remove F1 Sales", "Usage: `/bot knowledge remove F3 [profile]`"),
        ("knowledge remove", "Usage: `/bot knowledge remove F3 [profile]`"),
        ("knowledge @Support show Sales", "Usage: `/bot knowledge show [profile]`"),
    ],
)
async def test_each_command_answers_for_itself(two: SlackDriver, text: str, fragment: str) -> None:
    reply = await two.reply_text(text)
    assert fragment in reply, reply
    assert "/bot ab" not in reply


def test_the_ab_command_keeps_its_own_example() -> None:
    with pytest.raises(UserError, match=r"e\.g\. `/bot ab Support@3"):
        parse_messages('"Hi" there')


async def test_one_profile_is_one_profile(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.command("profiles")
    reply = await driver.next_reply()
    assert reply["text"] == "1 bot profile"
