"""The fakes stand for the outside world (Slack, an OpenAI-compatible server), so they must not be
built from the product's own code: a fake that imports our prompt texts or our measures agrees
with the product by construction, and the tests that use it could not fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PRODUCT_PACKAGES = {"bot", "commands", "storage"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, with the test-side modules it imports followed in turn."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(current.read_text(), filename=str(current))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{current.name}: relative import"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                found.add(name)
                if name.startswith("tests."):
                    todo.append(TESTS / (name.removeprefix("tests.").replace(".", "/") + ".py"))
    return found


@pytest.mark.parametrize("fake", ["fake_openai.py", "fake_slack.py"])
def test_fakes_import_nothing_from_the_product(fake: str) -> None:
    modules = imported_modules(TESTS / fake)
    assert modules, "the walk found no imports at all"
    product = sorted(m for m in modules if m.split(".")[0] in PRODUCT_PACKAGES)
    assert product == []


def test_the_guard_sees_product_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom bot.personality import BANDS\nimport storage.models\n")
    assert imported_modules(sample) == {"json", "bot.personality", "storage.models"}
