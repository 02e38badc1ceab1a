"""A class built again with the same arguments is a copy of its first build (memo.py),
and a copy is exactly what running the constructor again would have built.

The oracle is the reader itself with the memory switched off: every graph (each
node's operator, attributes and location, with its call chain) and every finding
must be equal. The memory must also be used, and must stay out of the way of a
constructor whose effects a copy would not repeat.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from rflint import api
from rflint.readers.python import memo
from rflint.readers.python.evaluator import Evaluator
from rflint.readers.python.reader import ReaderSession, read_python

REPEATED = textwrap.dedent('''\
    import torch.nn as nn


    class ConvBN(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.bn = nn.BatchNorm2d(cout)

        def forward(self, x):
            return self.bn(self.conv(x))


    def stage(stride):
        return nn.Sequential(ConvBN(8, 8, stride), ConvBN(8, 8))


    def net():
        return nn.Sequential(stage(2), stage(2), ConvBN(8, 8, 2))
''')

REGISTRY = textwrap.dedent('''\
    import torch.nn as nn

    BUILT = []


    class Counted(nn.Module):
        def __init__(self):
            super().__init__()
            BUILT.append(1)
            self.conv = nn.Conv2d(8, 8, 3, stride=len(BUILT), padding=1)

        def forward(self, x):
            return self.conv(x)


    def net():
        return nn.Sequential(Counted(), Counted())
''')


def _read(path: str, text: str) -> tuple[list[str], list[str]]:
    result = read_python(path, text, session=ReaderSession(use_installed=False))
    graphs = [repr(m.graph) for m in result.models]
    return graphs, [repr(d) for d in api.check_result(path, result, text)]


def _without_memory(monkeypatch, path: str, text: str) -> tuple[list[str], list[str]]:
    with monkeypatch.context() as m:
        m.setattr(memo, "MAX_ENTRIES", 0)
        return _read(path, text)


def test_copies_are_used_and_equal_to_running_the_constructor_again(monkeypatch) -> None:
    hits: list[int] = []
    original = memo.ConstructionMemo.replay

    def counting(self, ev, entry, loc):  # type: ignore[no-untyped-def]
        hits.append(1)
        return original(self, ev, entry, loc)

    monkeypatch.setattr(memo.ConstructionMemo, "replay", counting)
    remembered = _read("nets.py", REPEATED)
    assert hits, "ConvBN(8, 8, 2) and ConvBN(8, 8) are each built more than once"
    assert remembered == _without_memory(monkeypatch, "nets.py", REPEATED)


def test_each_copy_names_its_own_call_chain() -> None:
    """The three strided ConvBN are built at two call sites: stage() twice, net() once.
    Each layer's location names the chain that built it, not the first one's."""
    result = read_python("nets.py", REPEATED, session=ReaderSession(use_installed=False))
    net = next(m for m in result.models if m.graph.name == "net")
    strided = [n for n in net.graph.nodes if n.op is not None and getattr(n.op, "stride", (1,)) != (1, 1)
               and n.loc is not None and n.loc.line == 7]
    chains = [n.loc.chain for n in strided]
    assert len(chains) == 3 and len(set(chains)) == 3, chains
    assert sum("stage()" in " ".join(c) for c in chains) == 2, chains


def test_a_constructor_that_changes_a_global_is_run_every_time(monkeypatch) -> None:
    """Counted's stride is how many were built: a copy of the first (stride 1) would
    hide the second's stride 2, and its AA101."""
    graphs, found = _read("counted.py", REGISTRY)
    assert (graphs, found) == _without_memory(monkeypatch, "counted.py", REGISTRY)
    assert any("AA101" in d for d in found), found


def test_torchvision_files_read_the_same_with_and_without_the_memory(monkeypatch) -> None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed")
    models = Path(spec.origin).parent / "models"
    for name in ("resnet.py", "efficientnet.py", "densenet.py"):
        path = models / name
        text = path.read_text(encoding="utf-8")
        assert _read(str(path), text) == _without_memory(monkeypatch, str(path), text), name


ARGUMENT_CHANGED = textwrap.dedent('''\
    import torch.nn as nn


    class Stage(nn.Module):
        def __init__(self, strides):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, stride=strides.pop(0), padding=1)

        def forward(self, x):
            return self.conv(x)


    def net():
        first, second = [1], [1]
        a = Stage(first)
        b = Stage(second)
        return nn.Sequential(a, b, Stage(second + [2]))
''')


def test_a_constructor_that_changes_its_argument_is_run_every_time(monkeypatch) -> None:
    """Stage pops from its list, which the caller sees: after ``Stage(second)`` the list
    is empty, so the last Stage gets [2] and strides by 2. A copy of ``Stage(first)``
    (equal arguments) would leave ``second`` as it was, and the last Stage at stride 1."""
    graphs, found = _read("popped.py", ARGUMENT_CHANGED)
    assert (graphs, found) == _without_memory(monkeypatch, "popped.py", ARGUMENT_CHANGED)
    assert any("AA101" in d for d in found), found


def test_keys_compare_what_a_constructor_can_tell_apart() -> None:
    ev = Evaluator("m.py", "", __import__("ast").parse(""))
    cls = object.__new__(memo.ClassValue)
    assert ev.memo.key(ev, cls, [1, (2, 3), "same"], {"p": 0.5}) is not None
    assert ev.memo.key(ev, cls, [[1, 2]], {}) == ev.memo.key(ev, cls, [[1, 2]], {})  # equal lists
    assert ev.memo.key(ev, cls, [[1, 2]], {}) != ev.memo.key(ev, cls, [(1, 2)], {})
    assert ev.memo.key(ev, cls, [1], {}) != ev.memo.key(ev, cls, [1.0], {})  # equal in Python, not here
    assert ev.memo.key(ev, cls, [True], {}) != ev.memo.key(ev, cls, [1], {})
    assert ev.memo.key(ev, cls, [object()], {}) is None  # nothing a copy could stand for
