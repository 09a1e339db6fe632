"""What the live bot reads: a profile version's configuration as one JSON document, the same
for the read API (`GET /v1/profiles/{name}`) and `romashka profiles export`. No HTTP here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

from bot.domain.profile import TRAITS
from bot.persona.personality import build_system_prompt, sampling_for
from storage import knowledge as knowledge_repo
from storage import labels as labels_repo
from storage import profiles as profiles_repo


async def profile_config(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    profile_name: str,
    label: str | None,
    version: int | None,
    default_model: str,
) -> dict[str, Any]:
    """The configuration of `profile_name` at `label` or `version` (exactly one of them).
    Raises the storage layer's ProfileNotFound, LabelNotFound or VersionNotFound.

    The system prompt is built by the function `/bot test` uses, from the version's fields and
    all its knowledge: byte for byte what a test of that version sends the model whenever the
    knowledge fits KNOWLEDGE_BUDGET_TOKENS (larger knowledge is narrowed per question in a test;
    the items are here too, for a bot that does the same)."""
    profile = await profiles_repo.find_profile(pool, team_id=team_id, name=profile_name)
    if label is not None:
        version = await labels_repo.label_version(
            pool, team_id=team_id, profile_id=profile.id, label=label
        )
    assert version is not None
    found = await profiles_repo.get_version(
        pool, team_id=team_id, profile_id=profile.id, version=version
    )
    items = await knowledge_repo.items(pool, team_id=team_id, version_id=found.id)
    fields = found.fields
    sampling = sampling_for(fields)
    return {
        "profile": profile.name,
        "version": found.version,
        "label": label,
        "bot_name": fields.bot_name,
        "avatar_emoji": fields.avatar_emoji,
        "model": fields.model or default_model,
        "system_prompt": build_system_prompt(fields, items),
        "sampling": {
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_tokens,
            "presence_penalty": sampling.presence_penalty,
        },
        "traits": {t: fields.trait(t) for t in TRAITS},
        "response_style": fields.response_style.value,
        "knowledge": [
            {"id": i.ref, "kind": i.kind, "text": i.body, "question": i.question} for i in items
        ],
    }


def canonical_json(document: dict[str, Any]) -> bytes:
    """One byte sequence per document (sorted keys, no spaces), so its hash is a strong ETag."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
