"""An anytime-valid test of decisive A/B votes against a coin flip. Pure.

Teams look at a test whenever they like and close it when the numbers look good. A fixed-sample
rule (the sign test, or a 95% interval excluding 50%) read after every vote calls a fair coin
"preferred" far more often than 5% of the time. The evidence here stays valid however often it is
read and whenever the test is stopped.

The evidence is the e-value of the Beta(1, 1) mixture likelihood ratio against p = 1/2:

    E_n = ∫₀¹ p^s (1 − p)^f dp / (1/2)^n = B(1 + s, 1 + f) · 2^n,   n = s + f,

for s votes one way and f the other. Under a coin flip (E_n) is a nonnegative martingale that
starts at 1, so by Ville's inequality P(E_n ≥ 1/α for some n) ≤ α: declaring a preference the
first time E reaches 1/α = 20 is wrong at most 5% of the time, even with a look after every vote
(Robbins 1970, "Statistical methods related to the law of the iterated logarithm"; Ramdas,
Grünwald, Vovk & Shafer 2023, "Game-theoretic statistics and safe anytime-valid inference").
The mixture covers both directions, so the side that leads when E crosses is the one preferred.

Everything is computed in log space (`scipy.special.betaln`) so that thousands of votes neither
overflow nor underflow.
"""

from __future__ import annotations

import math
from typing import Final, overload

import numpy as np
import numpy.typing as npt
from scipy.special import betaln

from bot.domain.verdict import LOG_THRESHOLD, MAX_EXTRA_VOTES, PLANNED_SHARE

_LOG_2: Final = math.log(2.0)

_Counts = npt.NDArray[np.float64] | npt.NDArray[np.int64]


@overload
def log_e_value(successes: float, failures: float) -> float: ...
@overload
def log_e_value(successes: _Counts, failures: _Counts) -> npt.NDArray[np.float64]: ...
def log_e_value(
    successes: float | _Counts, failures: float | _Counts
) -> float | npt.NDArray[np.float64]:
    """ln E for `successes` votes one way and `failures` the other (whole or fractional counts,
    scalars or arrays). 0 (E = 1) with no votes; symmetric in its two arguments."""
    s = np.asarray(successes, dtype=np.float64)
    f = np.asarray(failures, dtype=np.float64)
    if np.any(s < 0) or np.any(f < 0):
        raise ValueError("vote counts must be non-negative")
    # B(1, 1) = 1, so the prior's normalising constant drops out
    out = betaln(1.0 + s, 1.0 + f) + (s + f) * _LOG_2
    if out.ndim == 0:
        return float(out)
    return np.asarray(out, dtype=np.float64)


def decided(successes: int, failures: int) -> bool:
    """True once the evidence against a coin flip reaches 1/α."""
    return log_e_value(successes, failures) >= LOG_THRESHOLD


def votes_to_tell(
    leading: int, trailing: int, *, share: float = PLANNED_SHARE, max_extra: int = MAX_EXTRA_VOTES
) -> int | None:
    """About how many more decisive votes would make the evidence reach 1/α if they split
    `share` : 1 − `share` for the side now leading (either side when level).

    Computed from the counts so far, never a constant: 0 when already decided, None when more
    than `max_extra` would be needed. The extra votes are split fractionally (0.6 of a vote),
    which is what "splitting 60/40" means when N is not a multiple of 5.
    """
    if leading < 0 or trailing < 0 or max_extra < 1:
        raise ValueError("counts must be non-negative and max_extra positive")
    if not 0.5 < share < 1.0:
        raise ValueError(f"share must be between 0.5 and 1, got {share}")
    leading, trailing = max(leading, trailing), min(leading, trailing)
    if decided(leading, trailing):
        return 0
    extra = np.arange(1, max_extra + 1, dtype=np.float64)
    log_e = log_e_value(leading + share * extra, trailing + (1.0 - share) * extra)
    # with a split like this the evidence can dip before it climbs, so the first crossing is
    # searched for rather than bisected
    crossed = np.flatnonzero(log_e >= LOG_THRESHOLD)
    return int(extra[crossed[0]]) if crossed.size else None
