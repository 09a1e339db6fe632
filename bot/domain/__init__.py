"""The domain's vocabulary: plain values with no I/O, shared by every layer.

Nothing here imports Slack, OpenAI, the database driver or numpy, so Block Kit builders and
tests can use these types cheaply; `storage/` maps its rows to them.
"""
