"""A/B tests, from start to verdict: the use cases behind `/bot ab` and its buttons.

`start` stores the test and writes the blind pairs (`pairs`), `voting` records votes,
`closing` closes or cancels, reveals and posts the verdict (`verdict` computes it with the
tests of `statistics` and the anytime-valid rule of `anytime`), `parent` keeps the test's
parent message in step, `leaderboard` ranks every version tested. Each takes the pool, a
RunContext or the Slack client it needs, never the listeners' dependency bag.
"""
