"""The App Home tab, published on `app_home_opened`.

Everything but the leaderboard is a handful of indexed queries. The leaderboard's bootstrap
takes from a quarter of a second to seconds, so it is kept in `leaderboard_cache` with a
fingerprint of the votes: when votes changed since, the tab is published at once with the
previous leaderboard (or a placeholder), then again when the new one is fitted."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.leaderboard import ranked_from, refresh_leaderboard
from bot.blocks.common import Block
from bot.blocks.home import AB_TESTS_SHOWN, LEADERS_SHOWN, PROFILES_SHOWN, RECENT_TESTS, home_view
from bot.domain.stats import AbSummary, HomeProfile, RecentTest
from bot.domain.verdict import Ranked
from bot.metrics import judge_report
from bot.metrics.judges import JudgeAgreement
from storage import ab as ab_repo
from storage import stats as repo

log = logging.getLogger(__name__)

HOME_TAB: Final = "home"


@dataclass(frozen=True, slots=True)
class HomeData:
    profiles: list[HomeProfile]
    total_profiles: int
    tests: list[RecentTest]
    ab_tests: list[AbSummary]
    fingerprint: str  # of the votes now
    cached: tuple[str, list[dict[str, Any]]] | None  # the kept leaderboard and its fingerprint
    judges: list[JudgeAgreement]


async def load(pool: asyncpg.Pool, *, team_id: str) -> HomeData:
    # independent reads on separate pooled connections, so the tab costs the slowest query,
    # not their sum
    (profiles, total), tests, ab_tests, fingerprint, cached, judges = await asyncio.gather(
        repo.home_profiles(pool, team_id=team_id, limit=PROFILES_SHOWN),
        repo.recent_tests(pool, team_id=team_id, limit=RECENT_TESTS),
        repo.recent_ab_tests(pool, team_id=team_id, limit=AB_TESTS_SHOWN),
        repo.votes_fingerprint(pool, team_id=team_id),
        repo.cached_leaderboard(pool, team_id=team_id),
        judge_report.every(pool, team_id=team_id),
    )
    return HomeData(profiles, total, tests, ab_tests, fingerprint, cached, judges)


async def render(
    pool: asyncpg.Pool, *, team_id: str, data: HomeData, ranked: list[Ranked] | None, stale: bool
) -> Block:
    labels: dict[str, str] = {}
    if ranked:
        top = [int(r.item) for r in ranked[:LEADERS_SHOWN]]
        found = await ab_repo.version_labels(pool, team_id=team_id, ids=top)
        labels = {str(k): v for k, v in found.items()}
    return home_view(
        profiles=data.profiles,
        total_profiles=data.total_profiles,
        tests=data.tests,
        ab_tests=data.ab_tests,
        ranked=ranked,
        labels=labels,
        leaderboard_stale=stale,
        judges=data.judges,
    )


async def build_view(pool: asyncpg.Pool, *, team_id: str) -> tuple[Block, HomeData, bool]:
    """The tab as it can be shown now, with the kept leaderboard when there is one; the flag
    says whether that leaderboard is up to date with the votes."""
    data = await load(pool, team_id=team_id)
    if data.fingerprint == repo.NO_VOTES:
        # nothing to fit: an empty board is known without any work
        ranked: list[Ranked] | None = []
        fresh = True
    else:
        ranked = ranked_from(data.cached[1]) if data.cached is not None else None
        fresh = (
            ranked is not None and data.cached is not None and data.cached[0] == data.fingerprint
        )
    view = await render(pool, team_id=team_id, data=data, ranked=ranked, stale=not fresh)
    return view, data, fresh


async def _publish(client: AsyncWebClient, user_id: str, view: Block) -> bool:
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("views.publish failed: %s", error)
        return False
    return True


class HomeTab:
    """Publishes the App Home tab. It remembers the teams whose leaderboard this process is
    fitting: a fit is seconds of CPU once many versions took part, and people opening the tab
    meanwhile get the kept board marked as updating rather than starting fits of their own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._fitting: set[str] = set()

    async def opened(self, client: AsyncWebClient, *, event: dict[str, Any], team_id: str) -> None:
        if event.get("tab") != HOME_TAB:
            return
        pool = self._pool
        user_id = str(event.get("user", ""))
        try:
            view, data, fresh = await build_view(pool, team_id=team_id)
            if not await _publish(client, user_id, view) or fresh or team_id in self._fitting:
                return
            self._fitting.add(team_id)
            try:
                ranked = await refresh_leaderboard(
                    pool, team_id=team_id, fingerprint=data.fingerprint
                )
            finally:
                self._fitting.discard(team_id)
            view = await render(pool, team_id=team_id, data=data, ranked=ranked, stale=False)
            await _publish(client, user_id, view)
        except Exception:
            # nobody to answer on the Home tab: the previous view simply stays
            log.exception("could not publish the Home tab")
