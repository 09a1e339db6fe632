"""The stats chart: a valid PNG of the intended size, posted with files_upload_v2 from the command
and from the stats message's button, and Slack's refusals ending in a clear message."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot import ids
from bot.domain.stats import VersionStats
from bot.metrics.charts import HEIGHT_PX, WIDTH_PX, stats_chart
from tests.slack_driver import CHANNEL, SlackDriver
from tests.test_stats import profile_id, seed_support

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def figures(
    version: int, alignment: float | None, ms: float | None, up: int, down: int
) -> VersionStats:
    return VersionStats(
        version_id=version, version=version,
        created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=version),
        answers={"test": 2, "followup": 0, "scenario": 0, "ab": 0}, failed=0,
        median_ms=ms, p95_ms=ms, median_ttft_ms=None, p95_ttft_ms=None,
        alignment=alignment, aligned=2 if alignment is not None else 0, trait_gaps={},
        thumbs_up=up, thumbs_down=down, behaviours_passed=0, behaviours_judged=0,
        ab_won=0, ab_lost=0, ab_inconclusive=0, tokens=None, metered=0,
    )  # fmt: skip


@pytest.mark.parametrize("count", [1, 3, 80])
def test_chart_is_a_png_of_the_intended_size(count: int) -> None:
    rows = [
        figures(v, None if v % 3 == 0 else 60 + v % 30, 900 + 10 * v, v % 4, 1)
        for v in range(1, count + 1)
    ]
    png = stats_chart(rows, title="Support: figures per version over the last 30 days")
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX) == (1200, 800)
    assert 10_000 < len(png) < 1_000_000


def test_missing_figures_draw_nothing_rather_than_zero() -> None:
    # a version with no figures at all must not change the picture of the others' points
    with_gap = stats_chart(
        [figures(1, 70, 1500, 1, 1), figures(2, None, None, 0, 0), figures(3, 80, 1200, 2, 0)],
        title="t",
    )
    assert png_size(with_gap) == (1200, 800)
    only_na = stats_chart([figures(1, None, None, 0, 0)], title="t")
    assert png_size(only_na) == (1200, 800)


async def test_chart_option_uploads_a_png_into_the_channel(driver: SlackDriver) -> None:
    await seed_support(driver)
    text = await driver.reply_text("stats Support --chart")
    assert text == "Posted the chart of *Support* in this channel."
    [(name, data, complete)] = driver.slack.files_posted()
    assert name.startswith("stats-Support-30d-") and name.endswith(".png")
    assert png_size(data) == (1200, 800)
    assert complete["channel_id"] == CHANNEL
    assert "per version of *Support*" in complete["initial_comment"]
    [get_url] = driver.slack.of("files.getUploadURLExternal")
    assert int(get_url.args["length"]) == len(data)


async def test_chart_button_on_the_stats_message(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.command("stats --days 7")
    button = (await driver.next_reply())["blocks"][-1]["elements"][0]
    await driver.click(ids.STATS_CHART, button["value"])
    assert (await driver.next_reply())["text"] == "Posted the chart of *Support* in this channel."
    [(name, data, _)] = driver.slack.files_posted()
    assert "-7d-" in name and png_size(data) == (1200, 800)


async def test_not_in_channel_ends_in_a_clear_message(driver: SlackDriver) -> None:
    await seed_support(driver)
    driver.slack.fail_next("files.completeUploadExternal", error="not_in_channel")
    text = await driver.reply_text("stats --chart")
    assert "I'm not in this channel" in text and "/invite @ROMASHKA" in text
    assert driver.slack.files_posted() == []


async def test_an_unknown_slack_error_is_named_not_hidden(driver: SlackDriver) -> None:
    await seed_support(driver)
    driver.slack.fail_next("files.getUploadURLExternal", error="ratelimited_upload")
    assert "Slack refused the upload (`ratelimited_upload`)" in await driver.reply_text(
        "stats --chart"
    )


async def test_nothing_to_draw_uploads_nothing(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    text = await driver.reply_text("stats --chart")
    assert text.startswith("No answers from *Support*")
    assert driver.slack.of("files.getUploadURLExternal") == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("not json", "out of date"),
        (json.dumps({"p": 1, "d": 0}), "from 1 to 365"),
        (json.dumps({"p": 999999, "d": 30}), "does not exist in this workspace"),
    ],
)
async def test_a_broken_chart_button(driver: SlackDriver, value: str, fragment: str) -> None:
    await driver.reply_text("new Support")
    await driver.click(ids.STATS_CHART, value)
    assert fragment in (await driver.next_reply())["text"]


async def test_chart_button_from_another_workspace_finds_nothing(driver: SlackDriver) -> None:
    await seed_support(driver)
    value = json.dumps({"p": await profile_id(driver.pool, "Support"), "d": 30})
    await driver.reply_text("new Other", team="T0002")
    await driver.click(ids.STATS_CHART, value, team="T0002")
    assert "does not exist in this workspace" in (await driver.next_reply())["text"]
    assert driver.slack.files_posted() == []
