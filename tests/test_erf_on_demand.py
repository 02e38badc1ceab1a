"""The analytic ERF is computed only when a rule that reads it runs (RF102, PD103).

It costs as much as the frames themselves, and a plain check's rules never read it.
"""

from __future__ import annotations

import textwrap

import pytest

from rflint import analysis, api
from rflint.config import default_config

SOURCE = textwrap.dedent('''\
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.pool = nn.MaxPool2d(3, 2)

        def forward(self, x):
            return self.pool(self.conv(x))
''')


def _no_erf(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("the ERF was computed")


def test_a_plain_check_does_not_compute_the_erf(monkeypatch) -> None:
    monkeypatch.setattr(analysis, "compose_moments", _no_erf)
    monkeypatch.setattr(api, "_MODEL_MEMO", api.OrderedDict())
    found = api.check_text("net.py", SOURCE)
    assert {d.code for d in found} >= {"AA101", "AA102"}, found


def test_the_erf_is_computed_when_an_enabled_rule_reads_it(monkeypatch) -> None:
    monkeypatch.setattr(analysis, "compose_moments", _no_erf)
    monkeypatch.setattr(api, "_MODEL_MEMO", api.OrderedDict())
    config = default_config().with_overrides(extend_select=["RF102"], input_size=64, object_size=[8, 48])
    with pytest.raises(AssertionError, match="the ERF was computed"):
        api.check_text("net.py", SOURCE, config)


def test_frames_are_the_same_with_and_without_the_erf() -> None:
    from rflint.readers.python import read_python

    graph = read_python("net.py", SOURCE).models[0].graph
    with_erf, without = analysis.analyse(graph, (64, 64)), analysis.analyse(graph, (64, 64), erf=False)
    assert [i.frames for i in with_erf.infos] == [i.frames for i in without.infos]
    assert any(i.moments for i in with_erf.infos) and not any(i.moments for i in without.infos)
