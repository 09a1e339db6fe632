"""Errors a person can act on. Their message is shown in Slack as is, so it must be safe to show."""


class UserError(Exception):
    """Bad input or a state the person can fix; `str(exc)` is the whole reply."""
