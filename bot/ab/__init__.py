"""A/B tests, from start to verdict: the use cases behind `/bot ab` and its buttons.

`start` writes the blind pairs (`pairs`), `voting` records votes, `closing` closes or cancels
and reveals, `parent` keeps the test's parent message in step. Each takes the pool, the model
client and a Slack client, never the listeners' dependency bag.
"""
