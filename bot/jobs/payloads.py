"""The jobs' names and payloads. A payload names what to do by ids only: the handler reads the
current rows, so a job never acts on a stale copy, and sees when what it names was deleted."""

from __future__ import annotations

import json
from dataclasses import Field, asdict, dataclass, fields
from typing import Any, ClassVar, Final, Self

from storage.ab_jobs import pair_prefix, post_prefix
from storage.calibration_runs import cell_prefix
from storage.jobs import scenario_run_prefix

SCENARIO_MESSAGE: Final = "scenario_message"
THREAD_POST: Final = "scenario_thread_post"
# a message of a run started without Slack (`romashka scenarios run`): the same job, under a
# name of its own so that the command's worker answers only such runs (it has no Slack client)
# while the app's workers help with them too
SCENARIO_MESSAGE_HEADLESS: Final = "scenario_message_headless"

# the field types a payload may have (ids and names), read back from JSON
_READ: Final[dict[str, Any]] = {"str": str, "int": int}


class Payload:
    """A job's payload as JSON: a frozen dataclass of `str` and `int` fields (ids only)."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def dumps(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def loads(cls, raw: bytes | None) -> Self:
        data = json.loads(raw or b"{}")
        values = {f.name: _READ[str(f.type)](data[f.name]) for f in fields(cls)}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ScenarioMessageJob(Payload):
    """Answer and judge one message of a scenario run, post it, and report the run when it is
    the last one."""

    team_id: str
    run_id: int
    attempt: int
    scenario_id: int
    position: int

    @property
    def dedupe_key(self) -> str:
        """One job per message and attempt in the queue at a time: enqueueing twice (a retried
        request, two resumes) adds nothing."""
        prefix = scenario_run_prefix(team_id=self.team_id, run_id=self.run_id)
        return f"{prefix}{self.attempt}:{self.scenario_id}:{self.position}"

    @property
    def reporter(self) -> str:
        """Names this job when it claims its run's report: run again, it may claim it again."""
        return f"{self.attempt}:{self.scenario_id}:{self.position}"


@dataclass(frozen=True, slots=True)
class ThreadPostJob(Payload):
    """Post one stored result of a run in the run's thread, at the channel's pace: the job is
    scheduled for its turn rather than waiting inside an answering slot."""

    team_id: str
    run_id: int
    result_id: int

    @property
    def dedupe_key(self) -> str:
        return f"scenario-post:{self.team_id}:{self.run_id}:{self.result_id}"


AB_PAIR: Final = "ab_pair"
AB_POST: Final = "ab_pair_post"


@dataclass(frozen=True, slots=True)
class AbPairJob(Payload):
    """Write one pair of an A/B test: both versions answer its message and the judge compares
    them in both orders; then its thread post is scheduled."""

    team_id: str
    ab_id: int
    message_id: int

    @property
    def dedupe_key(self) -> str:
        """One job per pair in the queue at a time: queueing it again adds nothing."""
        return f"{pair_prefix(team_id=self.team_id, ab_id=self.ab_id)}{self.message_id}"


@dataclass(frozen=True, slots=True)
class AbPostJob(Payload):
    """Post one written pair (or why it failed) in the test's thread at the channel's pace, and
    open the test for voting when it is the last pair."""

    team_id: str
    ab_id: int
    message_id: int

    @property
    def dedupe_key(self) -> str:
        return f"{post_prefix(team_id=self.team_id, ab_id=self.ab_id)}{self.message_id}"


CALIBRATION_CELL: Final = "calibration_cell"
# a cell of a sweep started without Slack (`romashka calibrate`): the command's own worker
# takes only these (it has no Slack client to report a Slack sweep with); app workers help
CALIBRATION_CELL_HEADLESS: Final = "calibration_cell_headless"


@dataclass(frozen=True, slots=True)
class CalibrationCellJob(Payload):
    """Answer and judge one cell of a calibration sweep (one setting of one trait, one
    question, one sample), store it once, and report the sweep when it is the last cell."""

    team_id: str
    run_id: int
    trait: str
    level: int
    question_idx: int
    sample: int

    @property
    def dedupe_key(self) -> str:
        prefix = cell_prefix(team_id=self.team_id, run_id=self.run_id)
        return f"{prefix}{self.trait}:{self.level}:{self.question_idx}:{self.sample}"


INTERACTIVE_ANSWER: Final = "interactive_answer"


@dataclass(frozen=True, slots=True)
class InteractiveAnswerJob(Payload):
    """Answer one stored `/bot test` request (storage.interactive) in its thread. The version,
    channel and thread are named too: when the version was deleted the request went with it, and
    the job still says so in the thread."""

    team_id: str
    request_id: int
    version_id: int
    channel_id: str
    thread_ts: str

    @property
    def dedupe_key(self) -> str:
        return f"interactive-answer:{self.team_id}:{self.request_id}"
