"""Answers: every answer goes through one pipeline (`pipeline`: prompt, model, measure, store,
judge); where its text goes is a sink. `thread` streams it into a Slack thread (`/bot test` in
`ask`, follow-ups in `follow_up`); `feedback` is an answer's Details and 👍 / 👎; `streaming`
is the Slack stream it writes to.
"""
