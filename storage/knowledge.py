"""Knowledge items of a profile version, and full-text retrieval over them. Team-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from bot.domain.knowledge import KnowledgeItem

_COLUMNS = "kind, ref, body, question, is_example"


def _item(row: Any) -> KnowledgeItem:
    return KnowledgeItem(
        kind=row["kind"],
        ref=row["ref"],
        body=row["body"],
        question=row["question"],
        is_example=row["is_example"],
    )


async def insert_items(
    con: asyncpg.Connection, *, team_id: str, version_id: int, items: Sequence[KnowledgeItem]
) -> None:
    await con.executemany(
        """
        INSERT INTO knowledge_items (team_id, profile_version_id, kind, ref, position, question,
                                     body, is_example)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        [
            (team_id, version_id, i.kind, i.ref, n, i.question, i.body, i.is_example)
            for n, i in enumerate(items)
        ],
    )


async def copy_items(
    con: asyncpg.Connection, *, team_id: str, from_version_id: int, to_version_id: int
) -> None:
    await con.execute(
        """
        INSERT INTO knowledge_items (team_id, profile_version_id, kind, ref, position, question,
                                     body, is_example)
        SELECT team_id, $3, kind, ref, position, question, body, is_example
        FROM knowledge_items WHERE team_id = $1 AND profile_version_id = $2
        """,
        team_id,
        from_version_id,
        to_version_id,
    )


async def items(
    con: asyncpg.Pool | asyncpg.Connection, *, team_id: str, version_id: int
) -> list[KnowledgeItem]:
    rows = await con.fetch(
        f"""
        SELECT {_COLUMNS} FROM knowledge_items
        WHERE team_id = $1 AND profile_version_id = $2 ORDER BY position
        """,
        team_id,
        version_id,
    )
    return [_item(r) for r in rows]


async def ranked(
    pool: asyncpg.Pool, *, team_id: str, version_id: int, query: str
) -> list[KnowledgeItem]:
    """All items, the most relevant to `query` first (PostgreSQL full-text rank). Any of the
    query's words may match: a customer's question rarely contains every word of an FAQ."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in query).split() if len(w) > 1]
    rows = await pool.fetch(
        f"""
        SELECT {_COLUMNS},
               ts_rank_cd(search, websearch_to_tsquery('english', $3)) AS rank
        FROM knowledge_items
        WHERE team_id = $1 AND profile_version_id = $2
        ORDER BY rank DESC, position
        """,
        team_id,
        version_id,
        " or ".join(words[:64]),
    )
    return [_item(r) for r in rows]
