"""Measurements over stored answers: style proxies measured in code (`proxies`), rater
agreement (`agreement`), a profile's figures per version (`versions`), charts and exports.
"""
