"""Pins every dependency that pyproject.toml gives a floor (`name>=X`) to exactly that floor, for
CI's check that the declared lower bounds are real. Written as pip constraints on stdout."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# the test tools the suite imports; linters are not run in that check
TEST_EXTRAS = ("pytest", "pytest-asyncio", "hypothesis")
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def pins(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    wanted += [d for d in project["optional-dependencies"]["test"] if d.startswith(TEST_EXTRAS)]
    out = []
    for requirement in wanted:
        match = _FLOOR.match(requirement)
        if match is None:
            sys.exit(f"no lower bound in {requirement!r}: every dependency declares its floor")
        out.append(f"{match.group(1)}=={match.group(2)}")
    return out


if __name__ == "__main__":
    print("\n".join(pins(Path(__file__).resolve().parent.parent / "pyproject.toml")))
