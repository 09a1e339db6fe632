"""Slack-facing services the use cases share: posting with retries (`post`), making model
text safe to post (`text`), request signatures and rate limits, who may edit (`roles`) and
the App Home tab (`home_tab`), file uploads (`uploads`), a workspace's uninstall and
purge (`workspace`). Block Kit itself is built in `bot.blocks`.
"""
