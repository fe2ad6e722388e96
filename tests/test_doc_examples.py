"""The Python examples of the plugin and connector guides run as written, in order, one namespace per page.

Every ```python block of docs/plugins.md and docs/connectors.md runs; a block that cannot run as
written is marked with ``<!-- not run: REASON -->`` on the line before it, and is skipped. A line
``print(...)  # TEXT`` says what the example prints: the block's printed lines must be those
texts, in order. ``__file__`` is a file in a temporary folder, as for a module of
the reader's own package.
"""

from __future__ import annotations

import contextlib
import io
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpi_engine import open_store
from kpi_engine.testing import ConnectorAcceptanceSuite, FakeClock

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ["docs/plugins.md", "docs/connectors.md"]
_BLOCK = re.compile(r"(?:<!--\s*not run:(?P<reason>[^>]*?)-->[ \t]*\n)?```python\n(?P<code>.*?)^```", re.S | re.M)
_PRINTS = re.compile(r"^[ \t]*print\(.*\)[ \t]+#[ \t]?(?P<expected>.*)$", re.M)


@dataclass(frozen=True)
class Example:
    line: int
    code: str
    not_run: str | None  # the reason given, or None for a block that runs


def examples(text: str) -> list[Example]:
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code"))  # the line of the opening fence, 1-based
        reason = match.group("reason")
        found.append(Example(line, match.group("code"), None if reason is None else reason.strip()))
    return found


class ExampleFailed(AssertionError):
    pass


def run_examples(text: str, name: str, folder: Path, namespace: dict[str, Any] | None = None) -> int:
    """Run the page's blocks in one namespace; returns how many ran. Raises ExampleFailed on the first fault."""
    if namespace is None:
        namespace = {}
    namespace.update(__name__=f"example_{Path(name).stem}", __file__=str(folder / "example.py"))
    ran = 0
    for example in examples(text):
        where = f"{name}, the block at line {example.line}"
        if example.not_run is not None:
            if not example.not_run:
                raise ExampleFailed(f"{where} is marked 'not run' without a reason")
            continue
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                # dont_inherit: the block is read as its own module, without this file's __future__ imports
                exec(compile(example.code, f"{name}:{example.line}", "exec", dont_inherit=True), namespace)
        except Exception as exc:
            raise ExampleFailed(f"{where} raised {exc!r}:\n{traceback.format_exc()}") from exc
        expected = [m.group("expected").rstrip() for m in _PRINTS.finditer(example.code)]
        if expected and printed.getvalue().splitlines() != expected:
            raise ExampleFailed(f"{where} printed {printed.getvalue().splitlines()!r}, the page says {expected!r}")
        ran += 1
    return ran


@pytest.mark.parametrize("guide", GUIDES)
def test_the_guides_python_examples_run_as_written(guide, tmp_path):
    text = (ROOT / guide).read_text(encoding="utf-8")
    ran = run_examples(text, guide, tmp_path)
    assert ran == len(examples(text)) - sum(e.not_run is not None for e in examples(text)) and ran >= 2


def test_the_connector_guides_acceptance_example_passes_the_suite_against_the_guides_mock(tmp_path):
    """The guide's suite class, its connector with the mapping of its section 4, its mock: the main checks pass."""
    text = (ROOT / "docs/connectors.md").read_text(encoding="utf-8")
    namespace: dict[str, Any] = {}
    run_examples(text, "docs/connectors.md", tmp_path, namespace)
    mapping = re.search(r"^## 4\. The field mapping.*?^```yaml\n(.*?)^```", text, re.S | re.M)
    assert mapping, "section 4 of the guide shows the connector's mapping.yaml"
    (tmp_path / "mapping.yaml").write_text(mapping.group(1), encoding="utf-8")  # beside the example's __file__
    (suite,) = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, ConnectorAcceptanceSuite)
        and value is not ConnectorAcceptanceSuite
    ]
    target = suite.acceptance_target.__wrapped__(suite())
    for check in (
        suite.test_full_read_holds_every_live_record_once,
        suite.test_a_crash_between_a_page_and_its_commit_loses_and_duplicates_nothing,
        suite.test_deleted_records_become_tombstones,
    ):
        store = open_store(f"sqlite:///{tmp_path / f'{check.__name__}.sqlite'}")
        try:
            check(suite(), store, target, FakeClock())
        finally:
            store.dispose()


def test_a_block_that_raises_fails_unless_it_is_marked_with_a_reason(tmp_path):
    page = "Text.\n\n```python\nx = 1\n```\n\n```python\nundefined_name + x\n```\n"
    with pytest.raises(ExampleFailed, match="line 7 raised NameError"):
        run_examples(page, "page.md", tmp_path)
    marked = page.replace("\n\n```python\nundefined", "\n\n<!-- not run: a fragment -->\n```python\nundefined")
    assert run_examples(marked, "page.md", tmp_path) == 1
    with pytest.raises(ExampleFailed, match="without a reason"):
        run_examples(marked.replace("a fragment", ""), "page.md", tmp_path)


def test_what_an_example_says_it_prints_is_checked(tmp_path):
    page = "```python\nprint(1 + 1)  # 2\n```\n"
    assert run_examples(page, "page.md", tmp_path) == 1
    with pytest.raises(ExampleFailed, match="printed"):
        run_examples(page.replace("# 2", "# 3"), "page.md", tmp_path)


def test_the_names_each_block_defines_are_seen_by_the_blocks_after_it(tmp_path):
    page = "```python\nx = 1\n```\n\nprose\n\n```python\nprint(x + 1)  # 2\n```\n"
    assert run_examples(page, "page.md", tmp_path) == 2
