"""A run with repeat > 1 posts one thread message per scenario message, with all its samples,
instead of one per sample (repeat 20 over 9 messages was 180 posts)."""

from __future__ import annotations

import json

from tests.slack_driver import SlackDriver
from tests.test_run_takeover import summaries, thread_posts
from tests.test_scenarios import posted, run_done


async def test_repeats_post_one_message_per_scenario_message(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions repeat 3")
    [run] = await run_done(live.pool, timeout=60)
    await posted(live.pool, timeout=60)
    assert await live.pool.fetchval("SELECT count(*) FROM test_results") == 9
    posts = thread_posts(live, run["parent_ts"])
    assert len(posts) == 3
    questions = {str(m) for m in run["plan"][0]["messages"]}
    heads = [p["blocks"][0]["text"]["text"] for p in posts]
    assert all("3 samples" in h for h in heads)
    assert {q for q in questions if any(q[:40] in h for h in heads)} == questions
    for post in posts:
        assert "passed" in json.dumps(post["blocks"])
    # the post is claimed and recorded on sample 0's row of its message
    recorded = await live.pool.fetch(
        "SELECT position FROM test_results WHERE posted_ts IS NOT NULL ORDER BY position"
    )
    assert [r["position"] for r in recorded] == [0, 1, 2]
    assert len(summaries(live)) == 1
