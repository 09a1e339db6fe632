"""Promotion gates: what a version must have shown before a label may point at it. Each gate
is judged from stored results only (a scenario run, a closed A/B test), never re-run here; a
refusal names the gate that failed and the command that would give it its evidence."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.profile import Profile
from bot.domain.release import Gate
from bot.startup.deps import Deps
from storage import gates as repo
from storage import profiles as profiles_repo

# the A/B verdicts that count as "the candidate was beaten" when it is side A / side B
_LOST_AS: dict[bool, str] = {True: "b_preferred", False: "a_preferred"}
_WON_AS: dict[bool, str] = {True: "a_preferred", False: "b_preferred"}


@dataclass(frozen=True, slots=True)
class GateResult:
    passed: bool
    summary: str  # shown in the reply, the history and the notice: "Billing scenarios 9/9"
    how: str  # what to run to get (better) evidence; empty when it passed


async def check(
    deps: Deps,
    *,
    team_id: str,
    profile: Profile,
    version: int,
    label: str,
    against: int | None,
) -> tuple[Gate | None, list[GateResult]]:
    """The label's gates judged for `version` of `profile`; `against` is the version the label
    points at now (the A/B gate compares with it)."""
    gate = await repo.gate_for(deps.pool, team_id=team_id, label=label)
    if gate is None:
        return None, []
    candidate = await profiles_repo.get_version(
        deps.pool, team_id=team_id, profile_id=profile.id, version=version
    )
    results: list[GateResult] = []
    if gate.scenario_id is not None:
        results.append(
            await _scenario(
                deps,
                team_id=team_id,
                gate=gate,
                candidate_id=candidate.id,
                profile_name=profile.name,
                version=version,
            )
        )
    if gate.require_ab:
        if against is None:
            results.append(GateResult(True, f"A/B: no {label} version yet to compare with", ""))
        else:
            current = await profiles_repo.get_version(
                deps.pool, team_id=team_id, profile_id=profile.id, version=against
            )
            results.append(
                await _ab(
                    deps,
                    team_id=team_id,
                    candidate_id=candidate.id,
                    against_id=current.id,
                    run=f"/bot ab {profile.name}@{against} {profile.name}@{version}",
                    label=label,
                    against=against,
                )
            )
    return gate, results


async def _scenario(
    deps: Deps, *, team_id: str, gate: Gate, candidate_id: int, profile_name: str, version: int
) -> GateResult:
    name = gate.scenario_name
    if name is None:
        return GateResult(
            False,
            "scenario gate: its scenario was deleted",
            "set another with `/bot gate <label> scenario <name>`",
        )
    ref = f"{profile_name} v{version}"
    how = f"`/bot scenario run {name} {profile_name}@{version}`"
    assert gate.scenario_id is not None
    evidence = await repo.latest_scenario_run(
        deps.pool, team_id=team_id, version_id=candidate_id, scenario_id=gate.scenario_id
    )
    if evidence is None:
        return GateResult(False, f"{name} scenarios: never run on {ref}", how)
    f = evidence.figures
    passed, judged = int(f.get("passed", 0)), int(f.get("judged", 0))
    failed, unjudged = int(f.get("failed", 0)), int(f.get("unjudged", 0))
    summary = f"{name} scenarios {passed}/{judged}"
    if failed:
        summary += f", {failed} messages failed"
    if unjudged:
        summary += f", {unjudged} not judged"
    # a run in which nothing was judged proves nothing (as in the CI command)
    ok = judged > 0 and passed == judged and not failed and not unjudged
    return GateResult(ok, summary + f" (run #{evidence.run_id})", "" if ok else how)


async def _ab(
    deps: Deps,
    *,
    team_id: str,
    candidate_id: int,
    against_id: int,
    run: str,
    label: str,
    against: int,
) -> GateResult:
    tests = await repo.closed_ab_tests(
        deps.pool, team_id=team_id, candidate_id=candidate_id, against_id=against_id
    )
    how = f"`{run}`, then close it"
    if not tests:
        return GateResult(False, f"A/B: no closed test against {label} v{against}", how)
    latest = tests[0]
    if latest.verdict_code == _LOST_AS[latest.candidate_is_a]:
        return GateResult(False, f"A/B #{latest.ab_id} lost to v{against}", how)
    won = latest.verdict_code == _WON_AS[latest.candidate_is_a]
    return GateResult(True, f"A/B #{latest.ab_id} {'won' if won else 'not lost'}", "")


def summary(results: list[GateResult]) -> str | None:
    return "; ".join(r.summary for r in results) if results else None
