"""An editor's session reuses the models an edit does not touch (reuse.py).

The oracle is a fresh read of the edited text: after every edit, the session's
result must equal it, graph for graph (operators, attributes, locations with their
call chains). And only the models whose build ran the edited definition are
built again.
"""

from __future__ import annotations

import textwrap

import pytest

from rflint import api
from rflint.readers.python import reader
from rflint.readers.python.reader import ReaderSession, read_python

SOURCE = textwrap.dedent('''\
    import torch.nn as nn

    WIDTH = 8


    def conv3(stride):
        return nn.Conv2d(WIDTH, WIDTH, 3, stride=stride, padding=1)


    class Block(nn.Module):
        def __init__(self, stride=1):
            super().__init__()
            self.conv = conv3(stride)

        def forward(self, x):
            return self.conv(x)


    def stem():
        return nn.Conv2d(3, WIDTH, 3, padding=1)


    def small():
        return nn.Sequential(stem(), Block(2))


    def large():
        return nn.Sequential(stem(), Block(2), Block(1))


    def twin():
        return nn.Sequential(Block(2), Block(2))


    def head():
        return nn.Sequential(nn.Conv2d(WIDTH, 4, 1))
''')

ALL = {"Block", "stem", "small", "large", "twin", "head"}
EDITS = {
    "a factory's own line": (("Block(1))", "Block(2))"), {"large"}),
    "a helper two factories call (a factory itself)": (
        ("nn.Conv2d(3, WIDTH, 3, padding=1)", "nn.Conv2d(3, WIDTH, 5, padding=2)"), {"stem", "small", "large"}),
    # small() builds Block(2) first; twin() gets copies of it (memo.py), which never run
    # conv3: the copies must carry the dependency on conv3's text.
    "a helper that only copied constructions ran": (("stride=stride, padding=1", "stride=stride, padding=2"),
                                                    {"Block", "small", "large", "twin"}),
    "a module constant": (("WIDTH = 8", "WIDTH = 16"), ALL),
    "a comment outside every definition": (("import torch.nn as nn", "import torch.nn as nn  # layers"), ALL),
}


def _graphs(result) -> dict[str, str]:
    return {m.graph.name: repr(m.graph) for m in result.models}


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """The names of the models built (not reused), in order."""
    names: list[str] = []
    factory, cls = reader._build_factory, reader._build_class

    def build_factory(ev, func, name, *rest):  # type: ignore[no-untyped-def]
        names.append(name)
        return factory(ev, func, name, *rest)

    def build_class(ev, value, *rest):  # type: ignore[no-untyped-def]
        names.append(value.name)
        return cls(ev, value, *rest)

    monkeypatch.setattr(reader, "_build_factory", build_factory)
    monkeypatch.setattr(reader, "_build_class", build_class)
    return names


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_rebuilds_exactly_the_models_that_ran_it(edit: str, built: list[str]) -> None:
    (old, new), rebuilt = EDITS[edit]
    assert old in SOURCE
    session = ReaderSession(use_installed=False, reuse_models=True)
    read_python("m.py", SOURCE, session=session)
    assert set(built) == ALL
    built.clear()
    edited = SOURCE.replace(old, new)
    again = read_python("m.py", edited, session=session)
    assert set(built) == rebuilt
    built.clear()
    fresh = read_python("m.py", edited, session=ReaderSession(use_installed=False))
    assert _graphs(again) == _graphs(fresh)
    assert api.check_result("m.py", again, edited) == api.check_result("m.py", fresh, edited)


def test_a_line_inserted_above_rebuilds_what_moved(built: list[str]) -> None:
    """Locations are part of a graph: definitions that moved are built again, the ones
    above the insertion are not."""
    session = ReaderSession(use_installed=False, reuse_models=True)
    read_python("m.py", SOURCE, session=session)
    built.clear()
    edited = SOURCE.replace("def small():", "# the small one\ndef small():")
    again = read_python("m.py", edited, session=session)
    assert set(built) == {"small", "large", "twin", "head"}
    assert _graphs(again) == _graphs(read_python("m.py", edited, session=ReaderSession(use_installed=False)))


def test_the_command_line_session_reuses_nothing(built: list[str]) -> None:
    session = ReaderSession(use_installed=False)
    read_python("m.py", SOURCE, session=session)
    read_python("m.py", SOURCE, session=session)
    assert len(built) == 2 * len(ALL)


def test_a_model_that_ran_out_of_budget_is_built_again(built: list[str], monkeypatch) -> None:
    """Under load, a build may run out of time; the next keystroke must try again rather
    than keep the incomplete model."""
    from rflint.readers.python import evaluator

    slow = SOURCE + textwrap.dedent('''

        class Slow(nn.Module):
            def __init__(self):
                super().__init__()
                for i in range(100):
                    k = i
                self.conv = nn.Conv2d(3, 8, 3)

            def forward(self, x):
                return self.conv(x)
    ''')
    monkeypatch.setattr(evaluator, "STEP_BUDGET", 300)
    session = ReaderSession(use_installed=False, reuse_models=True)
    first = read_python("m.py", slow, session=session)
    starved = {m.graph.name for m in first.models if any("exhausted" in u.reason for u in m.graph.unresolved)}
    assert starved == {"Slow"}, starved
    built.clear()
    read_python("m.py", slow, session=session)
    assert built == ["Slow"]


def test_a_factory_that_ran_out_of_budget_is_said_not_dropped(monkeypatch) -> None:
    """A factory whose build runs out before making a layer is still a model (RL004
    says it was not read completely), not a helper that builds nothing."""
    from rflint.readers.python import evaluator

    monkeypatch.setattr(evaluator, "STEP_BUDGET", 50)
    result = read_python("m.py", SOURCE, session=ReaderSession(use_installed=False))
    large = [m for m in result.models if m.graph.name == "large"]
    assert large and not large[0].graph.complete
    assert any("exhausted" in u.reason for u in large[0].graph.unresolved)


DATACLASS = textwrap.dedent('''\
    from dataclasses import dataclass

    import torch.nn as nn


    @dataclass
    class Config:
        stride: int = 1


    def net():
        cfg = Config()
        return nn.Sequential(nn.Conv2d(3, 8, 3, stride=cfg.stride, padding=1))
''')


def test_a_dataclass_a_factory_builds_is_a_definition_it_ran(built: list[str]) -> None:
    """A dataclass has no ``__init__`` of its own to run: building one still depends on
    its text (its fields' defaults)."""
    session = ReaderSession(use_installed=False, reuse_models=True)
    read_python("m.py", DATACLASS, session=session)
    built.clear()
    edited = DATACLASS.replace("stride: int = 1", "stride: int = 2")
    again = read_python("m.py", edited, session=session)
    assert built == ["net"]
    assert _graphs(again) == _graphs(read_python("m.py", edited, session=ReaderSession(use_installed=False)))
