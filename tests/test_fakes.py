"""The fakes stand for the outside world (Slack, an OpenAI-compatible server), so they must not be
built from the product's own code: a fake that imports our prompt texts or our measures agrees
with the product by construction, and the tests that use it could not fail. And the fake model's
own rules, which other tests rely on, hold: its answers move steadily with its leaning."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fake_openai import Leaning, rate, write_answer

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


STEPS = [n / 10 for n in range(11)]


def test_the_fake_model_answers_more_and_more_formally() -> None:
    levels = [rate(write_answer(Leaning(formal=v)))["formality"] for v in STEPS]
    assert levels == sorted(levels) and levels[0] < levels[-1]


def test_the_fake_model_answers_more_and_more_excitedly() -> None:
    answers = [write_answer(Leaning(lively=v)) for v in STEPS]
    exclamations = [a.count("!") for a in answers]
    assert exclamations == sorted(exclamations)
    assert exclamations[5] == 0 and exclamations[-1] >= 3  # nothing at neutral
    levels = [rate(a)["enthusiasm"] for a in answers]
    assert levels == sorted(levels) and levels[0] < levels[-1]


@pytest.mark.parametrize(
    ("field", "trait"), [("technical", "technical_depth"), ("caring", "empathy")]
)
def test_the_fake_model_adds_content_as_it_leans(field: str, trait: str) -> None:
    levels = [rate(write_answer(Leaning(**{field: v})))[trait] for v in STEPS]
    assert levels == sorted(levels) and levels[5] < levels[-1]


def test_the_fake_model_writes_longer_as_it_leans_long() -> None:
    lengths = [len(write_answer(Leaning(long=v)).split()) for v in STEPS]
    assert lengths == sorted(lengths) and 3 * lengths[0] < lengths[-1]
