"""Scenarios: scripted conversations run against a profile version, their figures and reports.

`run` is the use case behind `/bot scenario run` and Resume: a parent message with live
progress, one thread message per answer and the summary against the previous run.
"""
