"""A simulation run's figures, per simulation: goal verdicts, behaviours, drift, with repeats'
pass rates and Wilson intervals (bot.metrics.sampling). Pure; stored as the run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.simulation import Ending, Simulation
from bot.metrics.sampling import rate
from bot.simulation.conversation import counted, points_of
from bot.simulation.drift import pooled


def _rate_json(passed: int, n: int) -> dict[str, Any]:
    r = rate(passed, n)
    return {"passed": r.passed, "n": r.n, "value": r.value, "low": r.low, "high": r.high}


def simulation_figures(
    simulation: Simulation, conversations: Sequence[tuple[str | None, str | None, dict[str, Any]]]
) -> dict[str, Any]:
    """`conversations`: (ending, fault, outcome) of each sample of this simulation."""
    endings: dict[str, int] = {}
    for ending, _, _ in conversations:
        endings[ending or Ending.INTERNAL.value] = endings.get(ending or "internal", 0) + 1
    kept = [(e, f, o) for e, f, o in conversations if counted(e)]
    verdicts = [
        str(o["goal"]["verdict"]) for _, _, o in kept if o.get("goal") and o["goal"]["verdict"]
    ]
    goal = {
        "yes": verdicts.count("yes"),
        "partly": verdicts.count("partly"),
        "no": verdicts.count("no"),
        "rate": _rate_json(verdicts.count("yes"), len(verdicts)),
        "reasons": [
            f"{o['goal']['verdict']}: {o['goal']['reason']}"
            for _, _, o in kept
            if o.get("goal") and o["goal"]["verdict"]
        ][:3],
    }
    behaviours = []
    for b in simulation.behaviours:
        results = [
            v["passed"]
            for _, _, o in kept
            for v in o.get("behaviours", [])
            if v["behaviour"] == b and v.get("passed") is not None
        ]
        behaviours.append({"behaviour": b, **_rate_json(sum(results), len(results))})
    alignments = [o["alignment"] for _, _, o in conversations if o.get("alignment") is not None]
    return {
        "simulation_id": simulation.id,
        "name": simulation.name,
        "conversations": len(conversations),
        "counted": len(kept),
        "endings": endings,
        "faults": [f for e, f, _ in conversations if f and e != Ending.GOAL_MET.value][:3],
        "goal": goal,
        "behaviours": behaviours,
        "alignment": sum(alignments) / len(alignments) if alignments else None,
        "drift": [d.to_json() for d in pooled([points_of(o) for _, _, o in conversations])],
    }


def overall_checks(figures: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Goal verdicts "yes" plus behaviour passes, of all judged: the run's pass rate."""
    passed = sum(f["goal"]["rate"]["passed"] for f in figures) + sum(
        b["passed"] for f in figures for b in f["behaviours"]
    )
    n = sum(f["goal"]["rate"]["n"] for f in figures) + sum(
        b["n"] for f in figures for b in f["behaviours"]
    )
    return passed, n


def summary_json(figures: Sequence[dict[str, Any]]) -> dict[str, Any]:
    passed, n = overall_checks(figures)
    alignments = [f["alignment"] for f in figures if f["alignment"] is not None]
    return {
        "simulations": list(figures),
        "pass_rate": _rate_json(passed, n),
        "alignment": sum(alignments) / len(alignments) if alignments else None,
    }
