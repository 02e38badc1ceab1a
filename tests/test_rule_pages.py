"""The rule reference (rules/*.md) and the registered rules match both ways, and every
page's examples do what they say: "Example" raises the page's code, "Use instead" does not."""

from __future__ import annotations

import ast

import pytest

from rflint import pages
from rflint.checks.base import all_rules

RULES = all_rules()
PAGES = pages.all_page_codes()


def test_every_rule_has_a_page():
    missing = sorted(set(RULES) - set(PAGES))
    assert not missing, f"registered rules without a page in rules/: {missing}"


def test_every_page_has_a_rule():
    orphans = sorted(set(PAGES) - set(RULES))
    assert not orphans, f"pages in rules/ without a registered rule: {orphans}"


def test_pages_are_found():
    assert pages.pages_dir() is not None
    for code in RULES:
        assert pages.page_path(code) is not None
        assert pages.page_path(code.lower()) == pages.page_path(code)
    assert pages.page_path("ZZ999") is None
    with pytest.raises(KeyError):
        pages.page_text("ZZ999")


@pytest.mark.parametrize("code", PAGES)
def test_page_title_and_sections(code):
    text = pages.page_text(code)
    name = RULES[code].name if code in RULES else pages.title(text)[1]  # orphans fail elsewhere
    assert text.splitlines()[0] == f"# {code}: {name}"
    assert pages.title(text) == (code, name)
    found = pages.sections(text)
    missing = [s for s in pages.REQUIRED_SECTIONS if s not in found]
    assert not missing, f"{code}.md lacks sections {missing}"
    for section in pages.REQUIRED_SECTIONS:
        assert found[section].strip(), f"{code}.md: section {section!r} is empty"
    assert "http" in found["References"], f"{code}.md cites no source"


@pytest.mark.parametrize("code", PAGES)
def test_page_examples_parse(code):
    bad, good = pages.examples(code)
    assert bad, f"{code}.md has no ```python block under 'Example'"
    assert good, f"{code}.md has no ```python block under 'Use instead'"
    for block in bad + good:
        if code == "RL001" and block in bad:
            continue  # RL001's example is a file that does not parse: that is its point
        ast.parse(block)


def _examples(kind: int) -> list[tuple[str, int, str]]:
    params = []
    for code in PAGES:
        for i, block in enumerate(pages.examples(code)[kind]):
            params.append(pytest.param(code, i, block, id=f"{code}-{i}"))
    return params


def _codes(code: str, name: str, block: str) -> list[str]:
    """The codes found in a page's block, with the default selection plus the page's own
    rule: an off-by-default rule (RF102, CB103, RL002, RL003) is selected for its own
    page's examples, so that they are checked too."""
    from rflint.api import check_text
    from rflint.config import default_config

    config = default_config().with_overrides(extend_select=[code])
    return [d.code for d in check_text(f"rules/{code}_{name}.py", block, config)]


def test_off_by_default_rules_are_checked_on_their_own_pages():
    off = sorted(c for c, cls in RULES.items() if not cls.enabled_by_default and c in PAGES)
    assert off, "no off-by-default rule: this test no longer guards anything"
    for code in off:
        bad, good = pages.examples(code)
        assert bad and good, code
        assert code in _codes(code, "example_0", bad[0]), code


@pytest.mark.parametrize("code,index,block", _examples(0))
def test_example_raises_its_code(code, index, block):
    found = _codes(code, f"example_{index}", block)
    assert code in found, f"{code}.md's Example #{index} does not raise {code} (found: {found})"


@pytest.mark.parametrize("code,index,block", _examples(1))
def test_use_instead_does_not_raise_its_code(code, index, block):
    found = _codes(code, f"use_instead_{index}", block)
    assert code not in found, f"{code}.md's 'Use instead' #{index} raises {code}"


def test_sections_ignore_headings_inside_code():
    text = (
        "# XX101: demo\n\n## Example\n\n```python\n# rflint: input-size=224\n## not a heading\nx = 1\n```\n\n"
        "## Use instead\n\n```python\ny = 2\n```\n\n```text\nnot python\n```\n"
    )
    found = pages.sections(text)
    assert list(found) == ["Example", "Use instead"]
    assert pages.code_blocks(found["Example"]) == ["# rflint: input-size=224\n## not a heading\nx = 1\n"]
    assert pages.code_blocks(found["Use instead"]) == ["y = 2\n"]
    assert pages.title(text) == ("XX101", "demo")


def test_rf101_examples_carry_the_pragma():
    bad, good = pages.examples("RF101")
    for block in bad + good:
        lines = block.splitlines()
        i = next(n for n, line in enumerate(lines) if line.startswith("class "))
        assert lines[i - 1].startswith("# rflint: input-size=")
