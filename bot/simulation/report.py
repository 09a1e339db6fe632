"""A simulation run's results for terminals and CI: a table, JSON and JUnit XML, and the gates
(`--min-pass-rate` over goals reached and behaviours shown, `--min-alignment` over the bot's
turns). Pure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from bot.domain.profile import TRAIT_LABELS
from bot.simulation.drift import TOLERANCE


def failures(
    data: dict[str, Any], *, min_pass_rate: float | None, min_alignment: float | None, strict: bool
) -> list[str]:
    problems = []
    rate = data["pass_rate"]
    if rate["n"] == 0:
        problems.append("nothing was judged (every conversation faulted or failed)")
    if min_pass_rate is not None:
        value, what = (
            (rate["low"], "pass rate's lower bound")
            if strict
            else (
                rate["value"],
                "pass rate",
            )
        )
        if value is None or value < min_pass_rate:
            shown = "n/a" if value is None else f"{value:.0%}"
            problems.append(f"simulations' {what} {shown} is below {min_pass_rate:.0%}")
    if min_alignment is not None:
        mean = data.get("alignment")
        if mean is None or mean < min_alignment:
            shown = "n/a" if mean is None else f"{mean:.1f}"
            problems.append(f"simulations' mean alignment {shown} is below {min_alignment:g}")
    return problems


def _rate(r: dict[str, Any]) -> str:
    if not r["n"]:
        return "n/a"
    text = f"{r['passed']}/{r['n']}"
    if r.get("low") is not None:
        text += f" (95% CI {r['low']:.0%}–{r['high']:.0%})"
    return text


def _drift(d: dict[str, Any]) -> str:
    label = TRAIT_LABELS.get(str(d["trait"]), str(d["trait"]))
    slope = (
        "n/a"
        if d["slope"] is None
        else f"{d['slope']:+.1f}/turn [{d['slope_low']:+.1f}, {d['slope_high']:+.1f}]"
    )
    crossed = "never" if d["first_outside"] is None else f"turn {d['first_outside']}"
    return f"    drift {label}: trend {slope}; leaves ±{TOLERANCE} at {crossed}"


def table(label: str, run_id: int, data: dict[str, Any], problems: list[str]) -> str:
    lines = [f"Simulation run #{run_id} on {label}"]
    for f in data["simulations"]:
        endings = ", ".join(f"{e} {n}" for e, n in sorted(f["endings"].items()))
        goal = f["goal"]
        lines.append(f"  {f['name']}: {f['conversations']} conversations ({endings})")
        lines.append(
            f"    goal reached {_rate(goal['rate'])}; yes {goal['yes']}, partly "
            f"{goal['partly']}, no {goal['no']}"
        )
        for b in f["behaviours"]:
            lines.append(f"    {b['behaviour']}: {_rate(b)}")
        lines += [_drift(d) for d in f["drift"]]
        lines += [f"    simulator/model fault: {fault}" for fault in f["faults"]]
    lines.append(f"Overall pass rate {_rate(data['pass_rate'])}")
    lines += [f"FAILED: {p}" for p in problems]
    return "\n".join(lines)


def as_json(run_id: int, label: str, data: dict[str, Any], problems: list[str]) -> str:
    return json.dumps(
        {
            "run_id": run_id,
            "kind": "simulation",
            "profile_version": label,
            "passed": not problems,
            "problems": problems,
            **data,
        },
        indent=2,
        ensure_ascii=False,
    )


def junit(label: str, data: dict[str, Any], conversations: Sequence[dict[str, Any]]) -> str:
    """One suite per simulation, one case per conversation (sample): a goal not reached or a
    behaviour not shown is a failure, a model error an error, a simulator fault skipped."""
    root = ET.Element("testsuites", name=f"romashka simulations: {label}")
    for f in data["simulations"]:
        suite = ET.SubElement(root, "testsuite", name=str(f["name"]))
        rows = [c for c in conversations if c["simulation_id"] == f["simulation_id"]]
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for c in rows:
            counts["tests"] += 1
            case = ET.SubElement(
                suite, "testcase", classname=str(f["name"]), name=f"sample {c['sample'] + 1}"
            )
            ending = c["ending"]
            if ending == "simulator_fault" or ending == "turn_limit":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=str(c["fault"] or ending))
                continue
            if ending in {"model_error", "internal"}:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=str(c["fault"] or ending))
                continue
            goal = c.get("goal") or {}
            missed = [] if goal.get("verdict") == "yes" else [f"goal: {goal.get('verdict')}"]
            missed += [
                f"{v['behaviour']}: not shown"
                for v in c.get("behaviours", [])
                if v.get("passed") is False
            ]
            if missed:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message="; ".join(missed))
        for key, value in counts.items():
            suite.set(key, str(value))
    return ET.tostring(root, encoding="unicode")
