"""A multi-file project: a model built from blocks and helpers in other files, a config
dict, relative imports. rflint resolves it statically, reports findings at the lines
that built the layers (once per line), never runs any of it, and its numbers match a
measurement of the same project imported with torch."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rflint import api

RFLINT = shutil.which("rflint")

BLOCKS = '''\
import pathlib
import torch.nn as nn

pathlib.Path(SENTINEL).write_text("blocks imported")


def conv3x3(cin, cout, stride=1):
    """A shared helper: every conv of the project is built on the next line."""
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def upsample(cin, cout, kernel):
    return nn.ConvTranspose2d(cin, cout, kernel_size=kernel, stride=2, padding=1, output_padding=1)


class Stage(nn.Module):
    def __init__(self, cin, cout, down=True):
        super().__init__()
        pathlib.Path(SENTINEL).write_text("Stage constructed")
        self.pool = nn.MaxPool2d(2) if down else nn.Identity()
        self.conv = conv3x3(cin, cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.conv(self.pool(x)))
'''

CONFIG = '''\
CFG = {
    "widths": [8, 16, 32],
    "up_kernel": 3,
}
'''

MODEL = '''\
import torch
import torch.nn as nn

from .blocks import Stage, conv3x3, upsample
from .config import CFG


class Net(nn.Module):
    def __init__(self, cfg=CFG):
        super().__init__()
        widths = cfg["widths"]
        self.stem = conv3x3(3, widths[0])
        self.stages = nn.ModuleList(
            [Stage(cin, cout) for cin, cout in zip(widths[:-1], widths[1:])]
        )
        self.up = upsample(widths[-1], widths[-1], cfg["up_kernel"])

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.up(x)
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    sentinel = tmp_path / "SENTINEL"
    pkg = tmp_path / "proj" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(BLOCKS.replace("SENTINEL", repr(str(sentinel))))
    (pkg / "config.py").write_text(CONFIG)
    (pkg / "model.py").write_text(MODEL)
    return tmp_path / "proj"


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_findings_point_at_the_constructing_lines_once(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    result = api.check_paths(["pkg"], use_cache=False)
    blocks = project / "pkg" / "blocks.py"
    found = {(d.code, d.loc.file, d.loc.line) for d in result.diagnostics}
    up_line = line_of(blocks, "nn.ConvTranspose2d(")
    pool_line = line_of(blocks, "nn.MaxPool2d(2)")
    assert ("CB102", "pkg/blocks.py", up_line) in found  # kernel 3 came from the config dict
    assert ("AA102", "pkg/blocks.py", pool_line) in found
    # The pool line builds two layers (two stages) in two models: one finding.
    assert sum(1 for d in result.diagnostics if d.code == "AA102") == 1
    cb = next(d for d in result.diagnostics if d.code == "CB102")
    assert any("upsample()" in step for step in cb.loc.chain), cb.loc.chain
    assert not (project.parent / "SENTINEL").exists()


def test_explain_matches_measurement_of_the_imported_project(project: Path, monkeypatch) -> None:
    from measure import measure

    monkeypatch.chdir(project)
    e = api.explain("pkg/model.py::Net")
    assert e.model.graph.complete, e.model.graph.unresolved
    ((_, out),) = e.analysis.spatial_outputs()
    frame = e.analysis.info(out).frames[-1]
    assert not (project.parent / "SENTINEL").exists()  # rflint ran nothing

    monkeypatch.syspath_prepend(str(project))
    module = importlib.import_module("pkg.model")  # the test, not rflint, runs the project
    try:
        got = measure(module.Net(), (1, 3, 32, 256), period=2)
    finally:
        for name in [n for n in sys.modules if n == "pkg" or n.startswith("pkg.")]:
            del sys.modules[name]
    assert got.j == frame.j
    assert got.alpha == tuple(frame.alpha[p % frame.q] for p in range(2))
    assert got.beta == tuple(frame.beta[p % frame.q] for p in range(2))


def test_changing_an_imported_file_invalidates_the_cache(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    first = api.check_paths(["pkg/model.py"])
    assert any(d.code == "CB102" for d in first.diagnostics)
    (project / "pkg" / "config.py").write_text(CONFIG.replace('"up_kernel": 3', '"up_kernel": 4'))
    second = api.check_paths(["pkg/model.py"])
    assert not any(d.code == "CB102" for d in second.diagnostics)


def test_configured_model_entry_with_its_own_settings(project: Path, monkeypatch) -> None:
    (project / "rflint.toml").write_text(textwrap.dedent("""
        [[models]]
        entry = "pkg/model.py::Net(cfg={'widths': [8, 16], 'up_kernel': 4})"
        input-size = 64
        object-size = [8, 100]
    """))
    monkeypatch.chdir(project)
    result = api.check_paths(["pkg/model.py"], use_cache=False)
    rf = [d for d in result.diagnostics if d.code == "RF101"]
    assert rf and "100" in rf[0].message and rf[0].model.startswith("Net(")


def test_cli_entry_target_and_explain(project: Path) -> None:
    cmd = [RFLINT] if RFLINT else [sys.executable, "-m", "rflint"]
    out = subprocess.run([*cmd, "explain", "pkg/model.py::Net", "--output-format", "json"], cwd=project,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["complete"] and data["outputs"]
    names = [layer["name"] for layer in data["layers"]]
    assert "stages.0.conv" in names and "stages.1.pool" in names
    check = subprocess.run([*cmd, "check", "pkg/model.py::Net(cfg={'widths': [8, 16], 'up_kernel': 3})",
                            "--object-size", "500", "--output-format", "concise", "--no-cache"],
                           cwd=project, capture_output=True, text=True)
    assert " RF101 " in check.stdout, check.stdout + check.stderr
    assert not (project.parent / "SENTINEL").exists()


def test_configured_source_root_resolves_an_absolute_import(tmp_path: Path, monkeypatch) -> None:
    """Blocks in a directory that is not the model's package nor installed: found through
    ``src`` in the configuration, as installed packages are through sys.path."""
    lib = tmp_path / "vendor" / "blocks_lib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("import torch.nn as nn\n\n\ndef up(c):\n"
                                     "    return nn.ConvTranspose2d(c, c, kernel_size=3, stride=2, padding=1, output_padding=1)\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "net.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        from blocks_lib import up


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.up = up(8)

            def forward(self, x):
                return self.up(x)
    """))
    monkeypatch.chdir(tmp_path)
    without = api.check_paths(["app/net.py"], use_cache=False)
    assert not [d for d in without.diagnostics if d.code == "CB102"]
    (tmp_path / "rflint.toml").write_text('src = ["vendor"]\n')
    found = api.check_paths(["app/net.py"], use_cache=False)
    (cb,) = [d for d in found.diagnostics if d.code == "CB102"]
    assert cb.loc.file == "vendor/blocks_lib/__init__.py" and cb.loc.line == 5


def test_star_imports_resolve_lazily_through_packages(tmp_path: Path, monkeypatch) -> None:
    """`from m import *`, also re-exported by a package's __init__.py (timm's layout): names
    resolve through it, private ones do not, a star cycle does not hang, and a file that
    only re-exports reads none of the files it names (timm's models/__init__.py read and
    parsed 111 files, 3 s, before anything asked for one of their names)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .blocks import *\nfrom .cycle_a import *\n")
    (pkg / "blocks.py").write_text(textwrap.dedent("""
        import torch.nn as nn

        def up(c):
            return nn.ConvTranspose2d(c, c, kernel_size=3, stride=2, padding=1, output_padding=1)

        def _private(c):
            return nn.Conv2d(c, c, 3)
    """))
    (pkg / "cycle_a.py").write_text("from .cycle_b import *\n")
    (pkg / "cycle_b.py").write_text("from .cycle_a import *\n")
    (pkg / "unread.py").write_text("raise SystemExit('never read')\n")
    (tmp_path / "reexport.py").write_text("from pkg.unread import *\n__all__ = []\n")
    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        from pkg import *
        from pkg import up as up_again


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.up = up(8)
                self.again = up_again(8)
                self.hidden = _private(8)
                self.nothing = not_anywhere(8)

            def forward(self, x):
                return self.nothing(self.hidden(self.again(self.up(x))))
    """))
    monkeypatch.chdir(tmp_path)
    result = api.check_paths(["net.py", "reexport.py"], use_cache=False, show_unresolved=True)
    cb = [d for d in result.diagnostics if d.code == "CB102"]
    assert [(d.loc.file, d.loc.line) for d in cb] == [("pkg/blocks.py", 5)]
    unresolved = " | ".join(d.message for d in result.diagnostics if d.code == "RL002")
    assert "'_private' is not defined" in unresolved and "'not_anywhere' is not defined" in unresolved
    from rflint.readers.python import read_python

    read = read_python(str(tmp_path / "reexport.py"), (tmp_path / "reexport.py").read_text())
    assert read.dependencies == ()  # pkg/unread.py was never read


BLOCK_AND_MODEL = """\
import torch.nn as nn


class Down(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.down = Down(8)
        self.head = nn.Conv2d(8, 8, kernel_size=3, padding=1)

    def forward(self, x):
        return self.head(self.down(self.pad(self.stem(x))))
"""


def test_a_building_block_gets_layer_rules_but_not_the_models_input_size(tmp_path: Path, monkeypatch) -> None:
    """Down is built by Net: analysed alone it would meet the configured 224 px input and
    report PD101 (out floor((224 + 2 - 3)/2) + 1 = 112, far side used (112 - 1)*2 + 3 - 224
    - 1 = 0: pads (1, 0)), but in Net it meets the padded 225 px map, where the pads are
    (1, 1); and its own 3 px field is not an output that should hold an object (RF101).
    Only Net's findings are the model's."""
    (tmp_path / "rflint.toml").write_text("input-size = 224\nobject-size = [8, 64]\nselect = ['PD101', 'RF101', 'AA101']\n")
    (tmp_path / "net.py").write_text(BLOCK_AND_MODEL)
    monkeypatch.chdir(tmp_path)
    found = api.check_paths(["net.py"], use_cache=False)
    # By hand, in Net: stem keeps 224, the pad makes 225, Down: floor((225 + 2 - 3)/2) + 1 = 113,
    # far side used (113 - 1)*2 + 3 - 225 - 1 = 1: pads (1, 1), no PD101. Net's RF:
    # 3 + 2 + 2*2 = 9 px < 64: RF101 at Net. AA101 is a layer rule: at Down's conv either way.
    assert sorted((d.code, d.loc.line) for d in found.diagnostics) == [("AA101", 7), ("RF101", 13)]
    (tmp_path / "net.py").write_text(BLOCK_AND_MODEL.replace("\n\nclass Down", "\n\n# rflint: input-size=224\nclass Down", 1))
    pragma = api.check_paths(["net.py"], use_cache=False)  # a pragma makes the block a model again
    assert ("PD101", 8) in {(d.code, d.loc.line) for d in pragma.diagnostics}


def test_a_module_dict_looks_names_up_as_attributes(tmp_path: Path, monkeypatch) -> None:
    """``resnet.__dict__[backbone_name](...)``: torchvision's detection backbones pick the
    factory by name from a module's namespace (its globals, read lazily as attributes)."""
    pkg = tmp_path / "zoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent("""
        import torch.nn as nn

        def small():
            return nn.Conv2d(1, 1, 3)

        def large():
            return nn.Conv2d(1, 1, 7)
    """))
    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        from zoo import nets


        def backbone(name="large"):
            maker = nets.__dict__.get(name, nets.small)
            return nn.Sequential(nets.__dict__[name](), maker())
    """))
    monkeypatch.chdir(tmp_path)
    exp = api.explain("net.py::backbone", input_size=(32, 32))
    graph = exp.model.graph
    assert graph.complete, [u.reason for u in graph.unresolved]
    assert [n.op.kernel for n in graph.nodes if hasattr(n.op, "kernel")] == [(7, 7), (7, 7)]
