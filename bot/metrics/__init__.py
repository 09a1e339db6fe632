"""Measurements over stored answers: style proxies measured in code (`proxies`), rater
agreement (`agreement`), a profile's figures per version (`versions`); the use cases
`/bot stats` (`report`, with `charts`) and `/bot export` (`exporting`, CSV from `export`).
"""
