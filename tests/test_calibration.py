"""The calibration analysis recovers a known curve, a known dead range and a known leak from
samples whose perceived levels follow a hidden continuous function of the setting plus noise."""

from __future__ import annotations

import random

import pytest

from bot.metrics.calibration import LEVELS, Sample, calibrate


def hidden(setting: float) -> float:
    # rises 0→25, flat from 25 to 50 (the dead range), rises again to 100
    if setting <= 25:
        return 10 + 1.2 * setting
    if setting <= 50:
        return 40.0
    return 40 + 1.1 * (setting - 50)


def samples(k: int, *, seed: int, leak: float = 0.0) -> list[Sample]:
    noise = random.Random(seed)
    out = []
    for setting in LEVELS:
        for _ in range(k):
            out.append(
                Sample(
                    setting=setting,
                    perceived={
                        "formality": round(hidden(setting) + noise.gauss(0, 3)),
                        "empathy": round(50 + leak * setting + noise.gauss(0, 3)),
                        "enthusiasm": round(50 + noise.gauss(0, 3)),
                    },
                    proxies={"contractions_per_100_words": 8 - setting / 20},
                )
            )
    return out


def test_recovers_the_curve_and_the_dead_range() -> None:
    c = calibrate("formality", samples(8, seed=17))
    assert [lv.setting for lv in c.levels] == list(LEVELS)
    for lv in c.levels:
        assert lv.perceived is not None and lv.perceived.low is not None
        assert lv.perceived.high is not None
        # the hidden curve lies inside each level's interval
        assert lv.perceived.low <= hidden(lv.setting) <= lv.perceived.high
        assert lv.samples == 8
    assert c.dead_ranges == ((25, 50),)
    assert c.correlation is not None and c.correlation.rho > 0.9 and c.correlation.low > 0.8
    # least squares through (0, 10), (25, 40), (50, 40), (75, 67.5), (100, 95)
    assert c.slope == pytest.approx(0.79, abs=0.05)
    assert c.levels[0].proxies["contractions_per_100_words"] == pytest.approx(8)
    assert c.leaks == {}


def test_finds_a_leak_into_another_trait() -> None:
    c = calibrate("formality", samples(5, seed=3, leak=0.3))
    assert list(c.leaks) == ["empathy"]
    assert c.leaks["empathy"].rho > 0.8


def test_one_sample_per_level_has_no_interval_and_no_dead_range() -> None:
    c = calibrate("formality", samples(1, seed=1))
    assert all(lv.perceived is not None and lv.perceived.low is None for lv in c.levels)
    assert c.dead_ranges == ()  # cannot tell without intervals: not called dead
    assert c.correlation is not None  # five levels, five pairs


def test_two_levels_are_not_a_correlation() -> None:
    two = [s for s in samples(4, seed=2) if s.setting in (0, 100)]
    c = calibrate("formality", two)
    assert c.correlation is None
    assert c.slope is not None
