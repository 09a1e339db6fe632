"""What the personality judge found about one answer: a value that is stored and shown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from bot.domain.profile import TRAIT_LABELS

ANALYSIS_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class TraitAnalysis:
    trait: str
    target: int
    perceived: int
    reason: str

    @property
    def difference(self) -> int:
        """Signed: positive means the answer came across stronger than intended."""
        return self.perceived - self.target

    @property
    def label(self) -> str:
        return TRAIT_LABELS.get(self.trait, self.trait)


def alignment_score(pairs: list[tuple[int, int]]) -> float:
    """100 minus the mean absolute gap between target and perceived levels."""
    if not pairs:
        raise ValueError("alignment needs at least one trait")
    mean_gap = sum(abs(target - perceived) for target, perceived in pairs) / len(pairs)
    return round(100 - mean_gap, 1)


@dataclass(frozen=True, slots=True)
class Analysis:
    traits: tuple[TraitAnalysis, ...]
    alignment: float
    suggestions: tuple[str, ...]
    judge_model: str
    knowledge_used: tuple[str, ...] = ()

    def trait(self, name: str) -> TraitAnalysis:
        for t in self.traits:
            if t.trait == name:
                return t
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for a jsonb column."""
        return {
            "version": ANALYSIS_FORMAT_VERSION,
            "judge_model": self.judge_model,
            "alignment": self.alignment,
            "traits": {
                t.trait: {
                    "target": t.target,
                    "perceived": t.perceived,
                    "difference": t.difference,
                    "reason": t.reason,
                }
                for t in self.traits
            },
            "suggestions": list(self.suggestions),
            "knowledge_used": list(self.knowledge_used),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> Analysis:
        raw: dict[str, Any] = json.loads(data) if isinstance(data, str) else data
        traits = tuple(
            TraitAnalysis(
                trait=name,
                target=int(values["target"]),
                perceived=int(values["perceived"]),
                reason=str(values["reason"]),
            )
            for name, values in raw["traits"].items()
        )
        return cls(
            traits=traits,
            alignment=float(raw["alignment"]),
            suggestions=tuple(str(s) for s in raw["suggestions"]),
            judge_model=str(raw.get("judge_model", "")),
            knowledge_used=tuple(str(r) for r in raw.get("knowledge_used", [])),
        )
