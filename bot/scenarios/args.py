"""The arguments of `romashka scenarios run`, apart from the engine so that `--help` imports
nothing heavy."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenario",
        help="a scenario's name (quote names with spaces), 'all' (the scripted ones) or "
        "'simulations' (every simulated customer)",
    )
    parser.add_argument("--team", required=True, help="the Slack team id, e.g. T0123ABCD")
    parser.add_argument("--profile", required=True, help="profile name, or name@version")
    parser.add_argument("--format", choices=["table", "json", "junit"], default="table")
    parser.add_argument("--min-pass-rate", type=float, help="e.g. 0.8: fail below 80%% passed")
    parser.add_argument("--min-alignment", type=float, help="e.g. 70: fail below mean 70/100")
    parser.add_argument("--concurrency", type=int, help="messages at once (default: setting)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="samples of each message, 1 to 20 (default 1)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="gates apply to the 95%% interval's lower bound, not the point figure",
    )
