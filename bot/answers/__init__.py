"""Answers: the use cases that put a profile's answer in a Slack thread (`/bot test`,
follow-ups) and the pipeline every answer goes through (prompt, model, measure, store, judge).
"""
