"""Progress on standard error while files are checked: for a person at a terminal, once
the run has taken a second; never in a pipe, a CI log or a pre-commit hook's output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rflint import api
from rflint.cli import Progress, main

SOURCE = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_count_and_then_a_clean_line() -> None:
    out = Terminal()
    progress = Progress(out, after=0)
    progress(1, 3)
    progress(3, 3)
    assert "checked 3/3 files" in out.getvalue()
    progress.close()
    assert out.getvalue().endswith("\r\x1b[K")


def test_a_pipe_and_a_quick_run_see_nothing() -> None:
    pipe = io.StringIO()
    Progress(pipe, after=0)(1, 1)
    assert pipe.getvalue() == ""
    terminal = Terminal()
    quick = Progress(terminal, after=60)
    quick(1, 1)
    quick.close()
    assert terminal.getvalue() == ""


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_file_checked_is_counted(tmp_path: Path, monkeypatch, jobs: int) -> None:
    monkeypatch.setattr(api, "_PARALLEL_MIN_BYTES", 0)
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.py").write_text(SOURCE)
    heard: list[tuple[int, int]] = []
    result = api.check_paths([tmp_path], discover_config=False, use_cache=False, jobs=jobs,
                             progress=lambda done, total: heard.append((done, total)))
    assert sorted(heard) == [(1, 3), (2, 3), (3, 3)]
    assert len([d for d in result.diagnostics if d.code == "AA101"]) == 3


def test_the_command_line_writes_no_progress_into_a_pipe(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "m.py", "--no-cache"]) == 1
    assert "checked" not in capsys.readouterr().err
