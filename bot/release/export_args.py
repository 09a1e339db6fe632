"""The arguments of `romashka profiles export`, apart so that `--help` imports nothing else."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", help="PROFILE@VERSION or PROFILE@LABEL, e.g. Support@production")
    parser.add_argument("--team", required=True, help="the Slack team id, e.g. T0123ABCD")
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
