"""The arguments of `romashka calibrate`, apart from the sweep so that `--help` imports nothing
heavy."""

from __future__ import annotations

import argparse

TRAIT_CHOICES = ("formality", "enthusiasm", "technical_depth", "empathy", "all")
MAX_CALLS_DEFAULT = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trait", choices=TRAIT_CHOICES, help="the trait to sweep, or all four")
    parser.add_argument("--team", required=True, help="the Slack team id, e.g. T0123ABCD")
    parser.add_argument("--profile", required=True, help="profile name, or name@version")
    parser.add_argument(
        "--scenario", default="all", help="whose messages are asked (default: every scenario's)"
    )
    parser.add_argument("--samples", type=int, default=5, help="answers per message and setting")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--chart", help="a directory to write one PNG per trait into")
    parser.add_argument("--concurrency", type=int, help="answers at once (default: setting)")
    parser.add_argument(
        "--max-calls",
        type=int,
        default=MAX_CALLS_DEFAULT,
        help="above this many model calls, run only with --yes (default %(default)s)",
    )
    parser.add_argument("--yes", action="store_true", help="run even above --max-calls")
