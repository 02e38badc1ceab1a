"""Modules are shared by the files of a run; the evaluator that read one is not.

A class's bases and a ``defaultdict``'s factory are evaluated when first needed,
which may be while another file is read: they must use the evaluator reading now
(its budget, its state), and must not keep the finished one alive (it holds its
whole file's reading: a run over a model zoo grew by every file it read).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from rflint import api
from rflint.readers.python.evaluator import Evaluator
from rflint.readers.python.reader import ReaderSession

HELPERS = """
from collections import defaultdict

import torch.nn as nn

REGISTRY = defaultdict(list)


def width():
    return 8


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)
"""

FIRST = """
import torch.nn as nn
from helpers import width


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, width(), 3, padding=1)

    def forward(self, x):
        return self.conv(x)
"""

SECOND = """
import torch.nn as nn
from helpers import Block, REGISTRY

REGISTRY["blocks"].append(Block)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = REGISTRY["blocks"][0]()

    def forward(self, x):
        return self.block(x)
"""


def _alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Evaluator)  # type(): never asks a proxy object


def test_a_finished_evaluator_is_not_kept_and_not_used(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text(HELPERS)
    session = ReaderSession((str(tmp_path),), use_installed=False, time_budget=0.5)
    before = _alive()
    api.check_text(str(tmp_path / "first.py"), FIRST, session=session)  # loads helpers.py, needs no base
    assert _alive() == before, "the first file's evaluator outlived it"
    time.sleep(0.6)  # the first evaluator's time budget would have run out by now
    found = api.check_text(str(tmp_path / "second.py"), SECOND, session=session)
    assert "AA101" in {d.code for d in found}, found  # Block is a module; its strided conv is seen
