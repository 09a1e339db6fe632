"""The Block Kit builders are pure functions of domain values: importing any of them must not
pull in the model client, the database driver or the statistics stack. Each module is imported
in a fresh interpreter, so what an earlier import loaded cannot hide a heavy dependency."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.blocks

HEAVY = ("openai", "asyncpg", "numpy", "scipy")
MODULES = sorted(
    f"bot.blocks.{m.name}" for m in pkgutil.iter_modules([str(Path(bot.blocks.__file__).parent)])
)


def test_every_builder_module_is_listed() -> None:
    assert "bot.blocks.answer" in MODULES
    assert len(MODULES) >= 9


@pytest.mark.parametrize("module", MODULES)
def test_builders_import_without_heavy_dependencies(module: str) -> None:
    probe = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == [], f"{module} loads {done.stdout.strip()}"


def test_the_probe_sees_a_heavy_import() -> None:
    """The same probe on a module that does load the database driver reports it."""
    probe = (
        "import importlib, json, sys; importlib.import_module('storage.ab'); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "asyncpg" in json.loads(done.stdout)
