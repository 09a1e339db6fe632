"""Scenarios: scripted conversations run against a profile version.

`run` is the use case behind `/bot scenario run` and Resume (a parent message with live
progress, one thread message per answer, the summary against the previous run); `engine`
answers a run's plan; `figures` sums a run up and compares it with an earlier one; `report`
is what `romashka scenarios run` (bot.startup.scenarios_cli) prints for a team's CI;
`library` lists, finds, saves and deletes a workspace's scenarios; `args` and `form` read what
people type.
"""
