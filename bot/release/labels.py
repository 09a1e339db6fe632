"""Labels on profile versions (`production`, `staging`, any a team adds) and promotion: the
use cases behind `/bot promote`, `/bot labels` and the read API's `?label=`. No Slack here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.blocks.common import escape
from bot.domain.profile import Profile
from bot.domain.release import LabelMove, ProfileLabels
from bot.errors import UserError
from bot.release import gates
from bot.release.gates import GateResult
from bot.startup.deps import Deps
from storage import labels as labels_repo
from storage import profiles as profiles_repo
from storage.errors import LabelMovedMeanwhile, LabelNotFound

LABEL_RULE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
LABEL_NAMES: Final = (
    "Label names are one word of letters, digits, `-` or `_` (at most 30 characters), "
    "e.g. `production`, `staging` or `canary`."
)
_REF: Final = re.compile(r"^@?([\w.-]+)@([\w-]+)$", re.UNICODE)
_VERSION: Final = re.compile(r"^v?(\d{1,9})$", re.IGNORECASE)


def label_name(raw: str) -> str:
    """A label as stored: lower case, one word. Anything else is refused with the rule."""
    name = raw.strip().lower()
    if not LABEL_RULE.match(name):
        raise UserError(LABEL_NAMES)
    return name


@dataclass(frozen=True, slots=True)
class VersionRef:
    """`Support@7` (a version) or `Support@staging` (whatever that label points at)."""

    profile: str
    version: int | None
    label: str | None


def parse_ref(raw: str, *, usage: str) -> VersionRef:
    match = _REF.match(raw.strip())
    if match is None:
        raise UserError(usage)
    profile, target = match.group(1), match.group(2)
    number = _VERSION.match(target)
    if number is not None:
        return VersionRef(profile, int(number.group(1)), None)
    return VersionRef(profile, None, label_name(target))


async def resolve_ref(deps: Deps, *, team_id: str, ref: VersionRef) -> tuple[Profile, int]:
    """The profile and version number a reference names; clear errors when either is missing."""
    profile = await profiles_repo.find_profile(deps.pool, team_id=team_id, name=ref.profile)
    if ref.version is not None:
        version = await profiles_repo.get_version(
            deps.pool, team_id=team_id, profile_id=profile.id, version=ref.version
        )
        return profile, version.version
    assert ref.label is not None
    try:
        number = await labels_repo.label_version(
            deps.pool, team_id=team_id, profile_id=profile.id, label=ref.label
        )
    except LabelNotFound:
        raise UserError(no_such_label(profile.name, ref.label)) from None
    return profile, number


def no_such_label(profile_name: str, label: str) -> str:
    return (
        f"*{escape(profile_name)}* has no label `{escape(label)}` yet. "
        f"`/bot labels {profile_name}` shows its labels; `/bot promote {profile_name}@<version> "
        f"{label}` sets it."
    )


@dataclass(frozen=True, slots=True)
class Promoted:
    profile_name: str
    move: LabelMove


async def promote(
    deps: Deps,
    *,
    team_id: str,
    user_id: str,
    ref: VersionRef,
    label: str,
    override_reason: str | None = None,
) -> Promoted:
    """Point `label` at the referenced version. The label's version is read first and moved
    only if it is still there (compare-and-set): two editors promoting at once cannot both
    win, and the one who lost is told who moved it, instead of silently undoing it. The label's
    gates are judged first; a failing one refuses the promotion unless an override reason is
    given, which is then recorded with the move."""
    profile, version = await resolve_ref(deps, team_id=team_id, ref=ref)
    was = await labels_repo.current_label(
        deps.pool, team_id=team_id, profile_id=profile.id, label=label
    )
    if was == version:
        raise UserError(
            f"`{escape(label)}` of *{escape(profile.name)}* already points at v{version}; "
            "nothing changed."
        )
    _, results = await gates.check(
        deps, team_id=team_id, profile=profile, version=version, label=label, against=was
    )
    failing = [r for r in results if not r.passed]
    if failing and override_reason is None:
        raise UserError(
            refusal(profile_name=profile.name, version=version, label=label, failing=failing)
        )
    try:
        move = await labels_repo.move_label(
            deps.pool,
            team_id=team_id,
            profile_id=profile.id,
            label=label,
            expected=was,
            to_version=version,
            user_id=user_id,
            gates=gates.summary(results),
            # recorded only when it was needed: a gate failed and the editor went ahead
            override_reason=override_reason if failing else None,
        )
    except LabelMovedMeanwhile as exc:
        now = f"v{exc.found}" if exc.found is not None else "nothing"
        raise UserError(
            f"Someone else moved `{escape(label)}` of *{escape(profile.name)}* to {now} while "
            f"you promoted v{version}; nothing changed. `/bot labels {profile.name}` shows "
            "who; promote again to replace it."
        ) from None
    return Promoted(profile.name, move)


async def labels_of(deps: Deps, *, team_id: str, profile: Profile | None) -> list[ProfileLabels]:
    """One profile's labels, or every profile's when `profile` is None."""
    if profile is not None:
        found = await labels_repo.labels_of(deps.pool, team_id=team_id, profile_id=profile.id)
        return [ProfileLabels(profile, found)]
    profiles = await profiles_repo.list_profiles(deps.pool, team_id=team_id)
    every = await labels_repo.labels_in(deps.pool, team_id=team_id)
    return [ProfileLabels(p, [x for x in every if x.profile_id == p.id]) for p in profiles]


OVERRIDE_MAX: Final = 500


def refusal(*, profile_name: str, version: int, label: str, failing: list[GateResult]) -> str:
    lines = [
        f"Not promoted: `{escape(label)}` has gates that *{escape(profile_name)}* v{version} "
        "has not passed:"
    ]
    lines += [f"• {escape(r.summary)}: {escape(r.how)}" for r in failing]
    lines.append(
        f"An editor may promote anyway, with a reason that is recorded: "
        f"`/bot promote {profile_name}@{version} {label} override <reason>`."
    )
    return "\n".join(lines)
