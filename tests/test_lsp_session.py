"""The language server's reader session lives from one keystroke to the next, and ends
when a file it read changes on disk (rflint.lsp_worker.reader_session)."""

from __future__ import annotations

import os
from pathlib import Path

from rflint import lsp_worker as lsp
from rflint.config import default_config

HELPERS = """
STRIDE = 1
"""

MODEL = """
import torch.nn as nn
from helpers import STRIDE


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = nn.Conv2d(8, 8, 3, stride=STRIDE, padding=1)

    def forward(self, x):
        return self.d(x)
"""


def test_the_session_is_kept_until_an_imported_file_changes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lsp, "_SESSIONS", {})
    helpers = tmp_path / "helpers.py"
    helpers.write_text(HELPERS)
    (tmp_path / "model.py").write_text(MODEL)
    config = default_config(tmp_path)
    path = str(tmp_path / "model.py")
    assert [d.code for d in lsp.lint(path, MODEL, config)] == []
    first = lsp.reader_session(config)
    assert lsp.lint(path, MODEL + "\n", config) == [] and lsp.reader_session(config) is first  # kept

    helpers.write_text(HELPERS.replace("STRIDE = 1", "STRIDE = 2"))
    stat = os.stat(helpers)
    os.utime(helpers, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a clock that did not tick
    found = lsp.lint(path, MODEL, config)
    assert lsp.reader_session(config) is not first
    assert [d.code for d in found] == ["AA101"], found
