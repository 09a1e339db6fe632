"""A calibration against the last one: stored and read back unchanged, ρ's change called
detectable only when the Fisher z interval allows, dead ranges and leaks gone or new."""

from __future__ import annotations

from dataclasses import replace

from bot.metrics.calibration import Calibration, Sample, calibrate, to_json
from bot.metrics.calibration_compare import (
    change_lines,
    compare,
    correlations_differ,
    from_json,
)
from bot.metrics.sampling import Correlation
from bot.scenarios import calibration_history
from storage.db import create_pool
from tests import rows


def sweep(perceived: dict[int, list[int]], *, leak: bool = False) -> Calibration:
    samples = [
        Sample(
            setting=s,
            perceived={"formality": p, "empathy": s if leak else 50 + (i % 2)},
        )
        for s, values in perceived.items()
        for i, p in enumerate(values)
    ]
    return calibrate("formality", samples)


FLAT_MIDDLE = {
    0: [10, 12, 11],
    25: [30, 31, 29],
    50: [30, 32, 31],
    75: [31, 29, 30],
    100: [90, 91, 89],
}
STEEP = {0: [10, 12, 11], 25: [30, 31, 29], 50: [50, 52, 51], 75: [70, 69, 71], 100: [90, 91, 89]}


def test_json_round_trip_is_exact() -> None:
    c = sweep(STEEP, leak=True)
    assert from_json(to_json(c)) == c


def test_rho_change_needs_the_interval() -> None:
    small = Correlation(0.62, 15, 0.1, 0.9)
    assert correlations_differ(Correlation(0.91, 15, 0.7, 0.97), small) is False
    assert correlations_differ(Correlation(0.91, 200, 0.88, 0.93), Correlation(0.62, 200, 0.5, 0.7))


def test_dead_range_gone_leak_new_and_moved_levels() -> None:
    before, now = sweep(FLAT_MIDDLE), sweep(STEEP, leak=True)
    assert before.dead_ranges == ((25, 75),) and now.dead_ranges == ()
    change = compare(now, before, same_inputs=False)
    assert change.dead_gone == ((25, 75),) and change.dead_new == ()
    assert change.leaks_new == ("empathy",) and change.leaks_gone == ()
    assert change.moved == (50, 75)
    lines = "\n".join(change_lines(change, before_label="Support v1"))
    assert "Against the last calibration (Support v1; the prompt inputs changed since)" in lines
    assert "dead ranges: gone 25–75" in lines and "leaks: new empathy" in lines
    assert f"ρ {before.correlation.rho:.2f} → {now.correlation.rho:.2f}" in lines  # type: ignore[union-attr]
    again = compare(now, now, same_inputs=True)
    text = "\n".join(change_lines(again, before_label="x"))
    assert "within noise" in text and "dead ranges: as before" in text and "at no setting" in text


async def test_a_refused_store_still_shows_the_figures(db_dsn: str) -> None:
    """With the database gone, the calibration says it was not kept instead of failing."""
    closed = await create_pool(db_dsn, min_size=1, max_size=1)
    await closed.close()
    recorded = await calibration_history.record(
        closed,
        team_id="T0001",
        version=rows.version(),
        scenario=None,
        questions=["How do I cancel?"],
        samples=3,
        lost=0,
        result=sweep(STEEP),
    )
    assert recorded.change is None and recorded.lines == [calibration_history.NOT_KEPT]


def test_inputs_hash_ignores_the_swept_value_only() -> None:
    base = rows.version()
    same = calibration_history.inputs_hash
    swept = replace(base, fields=replace(base.fields, formality=3))
    other = replace(base, fields=replace(base.fields, empathy=3))
    q = ["How do I cancel?"]
    assert same(base, trait="formality", questions=q) == same(swept, trait="formality", questions=q)
    assert same(base, trait="formality", questions=q) != same(other, trait="formality", questions=q)
    assert same(base, trait="formality", questions=q) != same(base, trait="formality", questions=[])
