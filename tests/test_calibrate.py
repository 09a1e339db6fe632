"""`/bot calibrate` end to end: the cost said first, the limit, figures and chart in a thread."""

from __future__ import annotations

import struct

import pytest

from bot.errors import UserError
from bot.scenarios.calibration import parse_args
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import CHANNEL, SlackDriver


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_arguments() -> None:
    a = parse_args(
        ["formality", "support@2", "Billing", "questions", "samples", "3", "confirm"],
        profile_names=["Support"],
    )
    assert (a.traits, a.spec, a.scenario, a.samples, a.confirmed) == (
        ("formality",),
        "support@2",
        "Billing questions",
        3,
        True,
    )
    b = parse_args(["all", "Product", "inquiry"], profile_names=["Support"])
    assert len(b.traits) == 4 and b.spec is None and b.scenario == "Product inquiry"
    assert b.samples == 5 and not b.confirmed
    with pytest.raises(UserError, match="don't know the trait"):
        parse_args(["loudness"], profile_names=[])
    with pytest.raises(UserError, match="from 1 to 20"):
        parse_args(["empathy", "samples", "21"], profile_names=[])


async def test_cost_above_the_limit_asks_for_confirm(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    text = await live.reply_text("calibrate all Support")
    # 9 messages × 5 settings × 5 samples × 4 traits × 2 calls
    assert "= 1800 model calls" in text and "above this workspace's limit of 200" in text
    assert "confirm" in text
    assert model.requests == []


async def test_calibration_posts_figures_and_chart_in_a_thread(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    await live.command("calibrate formality Support Product inquiry samples 2")
    await live.slack.wait_for(lambda s: bool(s.files_posted()), timeout=30)
    [parent] = [
        c.args for c in live.slack.of("chat.postMessage") if "Calibrating" in c.args["text"]
    ]
    assert "3 messages × 5 settings × 2 samples = 60 model calls" in parent["text"]
    [(name, data, complete)] = live.slack.files_posted()
    assert name.startswith("calibration-formality-") and png_size(data) == (800, 800)
    assert complete["channel_id"] == CHANNEL
    thread = [
        c.args
        for c in live.slack.of("chat.postMessage")
        if c.args.get("thread_ts") is not None and "Spearman" in c.args["text"]
    ]
    assert len(thread) == 1
    figures = thread[0]["text"]
    assert "formality: set → perceived" in figures and "dead ranges:" in figures
    assert len(model.requests) == 60
    await live.slack.wait_for(
        lambda s: any("Calibrated formality" in c.args["text"] for c in s.of("chat.update"))
    )


async def test_a_calibration_is_kept_and_the_next_one_compared(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")

    async def calibrated(times: int) -> str:
        await live.command("calibrate formality Support Product inquiry samples 2")
        await live.slack.wait_for(lambda s: len(s.files_posted()) >= times, timeout=30)
        return str(
            [
                c.args["text"]
                for c in live.slack.of("chat.postMessage")
                if c.args.get("thread_ts") is not None and "Spearman" in c.args["text"]
            ][-1]
        )

    assert "First calibration of this trait, profile and scenario" in await calibrated(1)
    [row] = await live.pool.fetch("SELECT * FROM calibrations")
    assert (row["trait"], row["scenario"], row["samples"]) == ("formality", "Product inquiry", 2)
    assert [lv["setting"] for lv in row["result"]["levels"]] == [0, 25, 50, 75, 100]
    assert len(row["inputs_hash"]) == 64
    second = await calibrated(2)
    assert "Against the last calibration (Support v1, " in second
    assert "prompt inputs changed" not in second and " → " in second
    # the swept trait's own value changes no prompt; another trait's does
    await live.reply_text("set formality 90")
    assert "prompt inputs changed" not in await calibrated(3)
    await live.reply_text("set enthusiasm 90")
    third = await calibrated(4)
    assert "Against the last calibration (Support v2, " in third
    assert "the prompt inputs changed since" in third
    assert await live.pool.fetchval("SELECT count(DISTINCT inputs_hash) FROM calibrations") == 2
