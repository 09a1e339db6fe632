"""An A/B test over simulated customers, as the repository hands it out: the A/B test whose
votes decide it, the two quiet runs (one per version, the same plan) and its pairs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimulationAb:
    team_id: str
    ab_test_id: int
    run_a_id: int
    run_b_id: int
    repeat: int
    seed_base: int
    opened: bool

    @property
    def run_ids(self) -> tuple[int, int]:
        return self.run_a_id, self.run_b_id


@dataclass(frozen=True, slots=True)
class SimulationPair:
    """One blind pair: the same simulation and sample (and seed) played by A and by B. Which
    is shown first is the ab_message's stored `a_first`."""

    ab_message_id: int
    simulation_id: int
    sample: int
    conversation_a_id: int
    conversation_b_id: int
