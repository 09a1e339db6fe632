"""User-facing texts that are more than one line, kept together so they read as one voice."""

from typing import Final

HELP: Final = """*ROMASHKA bot playground* — tune your customer-service bot's personality together.

*Profiles*
• `/bot new Support` — create a profile from the defaults (the first one becomes the workspace default)
• `/bot profiles` — list this workspace's profiles
• `/bot use Support` — use this profile in this channel · `/bot default Support` — workspace default
• `/bot config [Support]` — edit every field in a form
• `/bot set formality 80 [Support]` — quick edit: `formality`, `enthusiasm`, `technical_depth`, `empathy` (0–100), `style concise|detailed|conversational`, `avatar :sparkles:`, `model gpt-4o-mini`
• `/bot set name Ava` · `/bot set instructions Always greet by name` — free text runs to the end; name another profile first: `/bot set @Support name Ava`
• `/bot show [Support]` — the current version as a card
• `/bot history [Support]` — every version with what changed
• `/bot rollback 3 [Support]` — save a new version equal to v3 (history is never rewritten)

*Production*
• `/bot promote Support@7 production` — point a label (`production`, `staging`, any one word) at a version; roll back by promoting the earlier one · `/bot labels [Support]` — where each label points
• `/bot gate production scenario Billing questions` · `gate production ab on` · `gate production off` — what a version must pass first · `/bot promotions here|off` — where promotion notices go
• `/bot api-token create live-bot` · `list` · `revoke live-bot` — tokens for the read API the live bot polls (`GET /v1/profiles/Support?label=production`)

*Testing*
• `/bot test How do I cancel my subscription?` — a live answer in a thread; `/bot test @Support …` for another profile
• `/bot scenarios` — the test scenarios with Run buttons · `/bot scenario new` · `/bot scenario edit <name>` · `/bot scenario delete <name>`
• `/bot scenario run <name|all> [Support@3] [repeat 5]` — run every message (5 samples each) and post a summary
• `/bot calibrate <trait|all> [Support@3] [scenario]` — sweep a slider 0–100 and chart what the judge perceives
• *Save as scenario* (a test or DM message's ⋯ menu, or the button under an answer) — the conversation becomes a scenario, its expected behaviours drafted by the judge for you to edit

*Company knowledge* (facts, products, policies and FAQs the answers must stick to)
• `/bot knowledge [Support]` — edit it in a form · `/bot knowledge show` — the items with their ids
• `/bot knowledge add faq "question" "answer"` · `/bot knowledge add policy "text"` · `/bot knowledge remove F3`

*Administration*
• `/bot editors add @person` · `remove @person` · `list` — who may change profiles, knowledge and scenarios
• `/bot purge` — a workspace admin deletes all of this workspace's data (asks to confirm)

*A/B tests*
• `/bot ab Support@3 Support@4 [scenario | "message" "message" …]` — blind replies in a thread; the team votes
• `/bot ab Support@3 Support@4 simulation Charged twice (simulated) [repeat 2]` — both versions face the same simulated customer (same seed per sample); the team votes blind on whole conversations
• `/bot ab close 12` — reveal and give the verdict · `/bot ab cancel 12` — end it without one · `/bot leaderboard` — every version ranked by the votes of closed tests
• `/bot stats [Support] [--days 30] [--chart]` — each version's answers, times, alignment, satisfaction, behaviours and A/B record, ▲/▼ against the previous version; `--chart` posts a chart
• `/bot export [Support] [--days 30]` — every answer and A/B vote of the period as CSV files in the channel (no profile: the whole workspace)

Where a profile is optional, the channel's pinned profile is used, else the workspace default."""

NO_PROFILE_YET: Final = "This workspace has no bot profile yet. Create one with `/bot new <name>`, e.g. `/bot new Support`."
# PostgreSQL text cannot hold a NUL byte; Slack clients never type one, forged payloads might
NUL_IN_TEXT: Final = (
    "That text contains a NUL character (an invisible \\0 byte), which can't be saved. "
    "Remove it and try again."
)
GENERIC_FAILURE: Final = (
    "Sorry, something went wrong on our side and nothing was changed. Please try again in a moment."
)


def usage(sub: str, example: str) -> str:
    return f"Usage: `/bot {sub}` — for example `/bot {example}`. `/bot help` lists every command."


# the DM's status while its answer is written (assistant.threads.setStatus)
DM_WRITING_STATUS: Final = "is writing…"
# the DM's profile select (commands/dm.py)
DM_PICK_UNREADABLE: Final = (
    "That choice could not be read; write `use <profile>@<version>` instead."
)

# ---- checking the judges and confirming runs from buttons (issue #17) ----
FLAG_OUT_OF_DATE: Final = "That verdict is no longer there; nothing was flagged."
FLAG_NOT_A_VERDICT: Final = (
    "Only the judge's own pass/fail verdicts can be flagged; this one was checked in code."
)


def flag_recorded(behaviour: str, *, flagged: bool, others: int) -> str:
    who = "" if others == 0 else f" ({others} other {'person' if others == 1 else 'people'} too)"
    if flagged:
        return (
            f"Recorded: you think the judge was wrong on “{behaviour}”{who}. It counts in the "
            "behaviours judge's figures in `/bot stats`. Click again to take it back."
        )
    return f"Taken back: your flag on “{behaviour}” is removed{who}."


def run_needs_confirming(calls: int, limit: int, *, by_command: bool = False) -> str:
    how = "Add `confirm` at the end to run it." if by_command else "Confirm to start it."
    return f"This run makes {calls} model calls, above this workspace's limit of {limit}. {how}"


# ---- interactive answers as jobs (issue #16) ----
ANSWER_NO_WORKER: Final = (
    ":hourglass_flowing_sand: Your question is queued, but no worker is answering: start one with "
    "`romashka worker` (or run the app with `WORKER_IN_APP=true`). It is answered here as soon as "
    "one runs."
)
ANSWER_INTERRUPTED: Final = (
    ":warning: This answer was interrupted: the worker answering it stopped. Please ask again."
)
ANSWER_VERSION_DELETED: Final = (
    ":warning: This question was not answered: its profile version was deleted before a worker "
    "picked it up. Run `/bot test` again to ask the profile's current version."
)


def answer_gave_up(reason: str) -> str:
    """`reason`: bot.jobs.gave_up.failure_reason, the kind of failure only."""
    return (
        f":warning: This question could not be answered: {reason}, on every try. Please ask again."
    )


def answer_still_queued(waited_s: float) -> str:
    return (
        f":hourglass_flowing_sand: Still queued after {waited_s:.0f} s: every worker is busy. "
        "It is answered here as soon as one is free."
    )
