"""The app's DM as a customer chat, end to end through signed events: the Messages tab offers
prompts, a message starts a conversation answered in its thread (titled, a status while the
model writes, streamed under the profile), follow-ups use the thread, `use` switches the
version, and a workspace that refuses the agent methods still gets its answers."""

from __future__ import annotations

from typing import Any

from bot import ids
from storage import profiles as repo
from storage import scenarios as scenarios_repo
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, USER, SlackDriver
from tests.test_bot_test import settled, streamed_text

DM = "D0000AAA1"


def dm_message(
    slack: FakeSlack, text: str, *, thread_ts: str | None = None, user: str = USER
) -> dict[str, Any]:
    ts = slack.next_ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": DM,
        "channel_type": "im",
        "event_ts": ts,
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    slack.thread_messages.setdefault((DM, thread_ts or ts), []).append(message)
    return message


def notices(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [
        str(c.args.get("text", ""))
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") == thread_ts and not c.args.get("blocks")
    ]


def pickers(slack: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    """The replies to a bare `use`: the profiles with a select to pick one."""
    return [
        c.args
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") == thread_ts
        and any(
            (b.get("accessory") or {}).get("action_id") == ids.DM_PROFILE_PICK
            for b in c.args.get("blocks") or []
        )
    ]


async def test_messages_tab_offers_prompts(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.event({"type": "app_home_opened", "user": USER, "channel": DM, "tab": "messages"})
    [call] = await live.slack.wait_calls("assistant.threads.setSuggestedPrompts")
    assert call.response["ok"] and call.args["channel_id"] == DM
    assert "thread_ts" not in call.args  # the agent view: set on the DM, not a thread
    prompts = call.args["prompts"]
    assert prompts[0] == {"title": "Pick a profile", "message": "use"}
    assert 2 <= len(prompts) <= 4  # the seeded scenarios' opening messages follow
    assert not live.slack.of("views.publish") or all(
        c.args["user_id"] == USER for c in live.slack.of("views.publish")
    )


async def test_a_dm_conversation_end_to_end(live: SlackDriver, model: FakeOpenAI) -> None:
    slack = live.slack
    await live.reply_text("new Support")
    await live.reply_text("set avatar :sparkles:")  # Support v2
    first_event = dm_message(slack, "Where is my order?")
    await live.event(first_event)
    [first] = await settled(live.pool)
    thread_ts = first_event["ts"]

    # answered in the message's own thread, titled, with a status while writing, streamed
    assert first.channel_id == DM and first.thread_ts == thread_ts and first.kind == "test"
    assert first.question == "Where is my order?" and first.message_ts
    [title] = slack.of("assistant.threads.setTitle")
    assert (title.args["channel_id"], title.args["thread_ts"], title.args["title"]) == (
        DM,
        thread_ts,
        "Support v2: Where is my order?",
    )
    [status] = slack.of("assistant.threads.setStatus")
    assert (status.args["thread_ts"], status.args["status"]) == (thread_ts, "is writing…")
    assert slack.calls.index(status) < slack.calls.index(slack.of("chat.startStream")[0])
    start = slack.of("chat.startStream")[0].args
    assert (start["channel"], start["thread_ts"]) == (DM, thread_ts)
    assert (start["username"], start["icon_emoji"]) == ("ROMASHKA Assistant", ":sparkles:")
    assert streamed_text(slack, first.message_ts) == first.answer
    footer = next(c for c in slack.of("chat.postMessage") if c.args.get("blocks"))
    assert footer.args["thread_ts"] == thread_ts  # metrics and 👍 / 👎 as in a test thread

    # a follow-up in the thread carries the conversation
    await live.event(dm_message(slack, "It says delivered but nothing came", thread_ts=thread_ts))
    _, second = await settled(live.pool, 2)
    assert second.kind == "followup" and second.profile_version_id == first.profile_version_id
    request = [r for r in model.requests if not r.get("response_format")][-1]
    assert [(m["role"], m["content"]) for m in request["messages"][1:]] == [
        ("user", "Where is my order?"),
        ("assistant", first.answer),
        ("user", "It says delivered but nothing came"),
    ]
    assert len(slack.of("assistant.threads.setStatus")) == 2

    # `use Support@1` switches this thread to version 1; the next answer comes from it
    await live.event(dm_message(slack, "use Support@1", thread_ts=thread_ts))
    await slack.wait_for(lambda s: any("now talking" in t for t in notices(s, thread_ts)))
    assert "You are now talking to *Support v1*" in notices(slack, thread_ts)[-1]
    await live.event(dm_message(slack, "Can I get a refund?", thread_ts=thread_ts))
    *_, third = await settled(live.pool, 3)
    profile = await repo.find_profile(live.pool, team_id=TEAM, name="Support")
    v1 = await repo.get_version(live.pool, team_id=TEAM, profile_id=profile.id, version=1)
    assert third.profile_version_id == v1.id != first.profile_version_id
    assert third.question == "Can I get a refund?"

    # the conversation's customer messages become a scenario
    await live.event(dm_message(slack, "save as scenario Lost parcel", thread_ts=thread_ts))
    await slack.wait_for(lambda s: any("Saved *Lost parcel*" in t for t in notices(s, thread_ts)))
    assert "with 3 messages" in notices(slack, thread_ts)[-1]
    saved = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name="Lost parcel")
    assert saved.messages == (
        "Where is my order?",
        "It says delivered but nothing came",
        "Can I get a refund?",
    )
    await live.event(dm_message(slack, "save as scenario lost parcel", thread_ts=thread_ts))
    await slack.wait_for(lambda s: "already exists" in notices(s, thread_ts)[-1])


async def test_use_lists_profiles_and_words_mistakes(live: SlackDriver) -> None:
    slack = live.slack
    await live.reply_text("new Support")
    root = dm_message(slack, "use")
    await live.event(root)
    await slack.wait_for(lambda s: bool(pickers(s, root["ts"])))
    listing = str(pickers(slack, root["ts"])[-1]["text"])
    assert "*Support*" in listing and "`use <profile>@3`" in listing
    await live.event(dm_message(slack, "use Nobody", thread_ts=root["ts"]))
    await slack.wait_for(lambda s: len(notices(s, root["ts"])) == 1)
    assert "no profile named *Nobody*" in notices(slack, root["ts"])[-1]
    await live.event(dm_message(slack, "save as scenario Empty", thread_ts=root["ts"]))
    await slack.wait_for(lambda s: len(notices(s, root["ts"])) == 2)
    assert "nothing to save yet" in notices(slack, root["ts"])[-1]
    # a retry of the same `use` is answered once
    again = dm_message(slack, "use Support")
    await live.event(again, event_id="EvUSE")
    await live.event(again, event_id="EvUSE", retry_num=1)
    await slack.wait_for(lambda s: bool(notices(s, again["ts"])))
    assert len(notices(slack, again["ts"])) == 1


async def test_refused_agent_methods_still_answer(live: SlackDriver) -> None:
    slack = live.slack
    await live.reply_text("new Support")
    for method in ("assistant.threads.setTitle", "assistant.threads.setStatus"):
        slack.fail_next(method, error="missing_scope")
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    await live.event(dm_message(slack, "Hello?"))
    [result] = await settled(live.pool)
    assert result.answer and result.channel_id == DM
    assert not slack.of("assistant.threads.setTitle")[0].response["ok"]
    # the answer was posted and updated instead of streamed
    assert any(c.args.get("username") for c in slack.of("chat.postMessage"))


async def test_bots_edits_and_empty_dms_are_ignored(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    for event in (
        {"type": "message", "channel": DM, "channel_type": "im", "bot_id": "B1", "ts": "1.1"},
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": DM,
            "channel_type": "im",
            "ts": "1.2",
        },
        {"type": "message", "channel": DM, "channel_type": "im", "user": USER, "ts": "1.3"},
    ):
        await live.event(event)
    await live.event(dm_message(live.slack, "A real question"))
    results = await settled(live.pool)
    assert [r.question for r in results] == ["A real question"]


async def test_the_profile_select_switches_the_thread(live: SlackDriver) -> None:
    """`use` (the "Pick a profile" prompt) answers with a select of each profile's newest
    versions; picking one switches the thread as `use Support@1` does, and says so there."""
    slack = live.slack
    await live.reply_text("new Support")
    await live.reply_text("new Sales")
    root = dm_message(slack, "Where is my parcel?")
    await live.event(root)
    [first] = await settled(live.pool)
    await live.event(dm_message(slack, "use", thread_ts=root["ts"]))
    await slack.wait_for(lambda s: bool(pickers(s, root["ts"])))
    [posted] = pickers(slack, root["ts"])
    select = posted["blocks"][0]["accessory"]
    assert select["type"] == "static_select"
    groups = {
        g["label"]["text"]: [o["value"] for o in g["options"]] for g in select["option_groups"]
    }
    assert groups == {"Sales": ["Sales@1"], "Support": ["Support@1"]}
    # the select is in the thread's reply; Slack sends the message it sits in
    message = {"ts": slack.next_ts(), "thread_ts": root["ts"], "text": posted["text"]}
    await live.interact(select_payload(slack, value="Sales@1", message=message))
    await slack.wait_for(lambda s: any("now talking" in t for t in notices(s, root["ts"])))
    assert "You are now talking to *Sales v1*" in notices(slack, root["ts"])[-1]
    await live.event(dm_message(slack, "And a refund?", thread_ts=root["ts"]))
    _, second = await settled(live.pool, 2)
    sales = await repo.find_profile(live.pool, team_id=TEAM, name="Sales")
    v1 = await repo.get_version(live.pool, team_id=TEAM, profile_id=sales.id, version=1)
    assert second.profile_version_id == v1.id != first.profile_version_id
    # an unknown profile (deleted since the select was posted) is worded, not a crash
    await live.interact(select_payload(slack, value="Gone@1", message=message))
    await slack.wait_for(lambda s: any("Gone" in str(c.args.get("text")) for c in s.responses))


def select_payload(slack: FakeSlack, *, value: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": USER, "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": "trigger-pick",
        "channel": {"id": DM},
        "container": {"type": "message", "channel_id": DM, "message_ts": message["ts"]},
        "message": message,
        "response_url": slack.response_url("pick"),
        "actions": [
            {
                "action_id": ids.DM_PROFILE_PICK,
                "block_id": "b",
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
            }
        ],
    }
