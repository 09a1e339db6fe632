"""`romashka profiles export Support@production --team T0123 --format json|yaml`: the document
the read API serves, for teams that deploy configuration from files. No Slack needed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from bot.errors import UserError
from bot.release.document import profile_config
from bot.release.labels import parse_ref
from bot.startup.runtime import database
from bot.startup.settings import CoreSettings
from storage.errors import LabelNotFound, NotFound

EXIT_OK, EXIT_USAGE = 0, 2
USAGE = "name the version as PROFILE@VERSION or PROFILE@LABEL, e.g. Support@7 or Support@production"


def render(document: dict[str, Any], *, format: str) -> str:
    if format == "yaml":
        import yaml  # type: ignore[import-untyped]  # PyYAML ships no annotations

        # block style, keys in the API's order (sorted), multi-line prompts kept readable
        dumped: str = yaml.safe_dump(
            document, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100
        )
        return dumped
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


async def export_profile(
    settings: CoreSettings, args: argparse.Namespace, *, out: TextIO = sys.stdout
) -> int:
    try:
        ref = parse_ref(args.ref, usage=USAGE)
    except UserError as exc:
        print(f"romashka: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with database(settings) as pool:
        try:
            document = await profile_config(
                pool,
                team_id=args.team,
                profile_name=ref.profile,
                label=ref.label,
                version=ref.version,
                default_model=settings.openai_model,
            )
        except LabelNotFound:
            print(f"romashka: {ref.profile} has no label {ref.label!r}", file=sys.stderr)
            return EXIT_USAGE
        except NotFound as exc:
            print(f"romashka: {exc}", file=sys.stderr)
            return EXIT_USAGE
    out.write(render(document, format=args.format))
    return EXIT_OK
