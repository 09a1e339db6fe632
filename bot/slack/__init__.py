"""Slack-facing services the use cases share: posting with retries (`post`), making model
text safe to post (`text`), request signatures and rate limits, who may edit (`roles`) and
file uploads (`uploads`), a workspace's uninstall and purge (`workspace`). The App
Home tab is `bot.home_tab`. Block Kit itself is built in `bot.blocks`.
"""
