"""The pre-commit hooks through the real ``pre-commit`` program.

pre-commit clones a hooks repository at a commit, builds a virtualenv for it
and pip-installs it there: no torch, no torchvision, which is the point (the
static path must not need them). ``try-repo`` wants the hooks committed, so
the test commits a copy of this working tree in a temporary repository and
points pre-commit at that; a second temporary repository is the user's
project, with a model that has a checkerboard transposed conv (CB102).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is in the test extra: pip install -e '.[test]'")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# What pip needs to build and install rflint (tests, examples and benchmarks are not).
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "rflint", "rules")

BAD_MODEL = '''\
from torch import nn


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)
'''
# Not a layer spec: the hooks must never pass it to rflint (which would call it unreadable).
OTHER_YAML = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "rflint tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "rflint tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path / "home"),
        "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1",
    })
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def _hooks_repo(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str]:
    """This working tree's package, committed in a repository of its own: (path, commit)."""
    repo = tmp_path / "rflint-hooks"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".rflint_cache")
    for name in PACKAGE_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, repo / name)
    _git("init", "-q", "-b", "main", cwd=repo, env=env)
    _git("add", ".", cwd=repo, env=env)
    _git("commit", "-q", "-m", "rflint at the state under test", cwd=repo, env=env)
    return repo, _git("rev-parse", "HEAD", cwd=repo, env=env)


def _project(tmp_path: Path, env: dict[str, str]) -> Path:
    project = tmp_path / "project"
    (project / "nets").mkdir(parents=True)
    (project / "nets" / "decoder.py").write_text(BAD_MODEL)
    (project / "ci.yaml").write_text(OTHER_YAML)
    (project / "package.json").write_text('{"name": "not-a-spec"}\n')
    _git("init", "-q", "-b", "main", cwd=project, env=env)
    _git("add", ".", cwd=project, env=env)
    _git("commit", "-q", "-m", "a decoder", cwd=project, env=env)
    return project


def _pre_commit(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_hooks_through_pre_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _env(tmp_path)
    hooks, rev = _hooks_repo(tmp_path, env)
    project = _project(tmp_path, env)

    # 1. The check hook, as `pre-commit try-repo` runs it: it fails with the finding.
    tried = _pre_commit(["try-repo", str(hooks), "rflint", "--all-files", "--verbose"], project, env)
    out = tried.stdout + tried.stderr
    assert tried.returncode == 1, out
    assert "rflint" in out and "Failed" in out, out
    assert "nets/decoder.py:7:19: CB102" in out, out
    assert "ci.yaml" not in out and "package.json" not in out and "RL001" not in out, out

    # 2. The fix hook from a .pre-commit-config.yaml, with --unsafe-fixes in its args
    # (CB102's fix changes the weight shape, so it is unsafe): it rewrites the file.
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hooks}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: rflint\n"
        "      - id: rflint-fix\n"
        "        args: [--unsafe-fixes]\n"
    )
    _git("add", ".pre-commit-config.yaml", cwd=project, env=env)
    fixed = _pre_commit(["run", "rflint-fix", "--all-files"], project, env)
    out = fixed.stdout + fixed.stderr
    assert fixed.returncode == 1, out  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in out, out
    text = (project / "nets" / "decoder.py").read_text()
    assert "nn.ConvTranspose2d(16, 8, kernel_size=4, stride=2, padding=1, output_padding=0)" in text

    # The hook's environment (kept in PRE_COMMIT_HOME by `run`; try-repo's is temporary)
    # has rflint and not torch: the static path needs no torch.
    envs = [p for p in (tmp_path / "pre-commit-home").glob("repo*/py_env-*") if p.is_dir()]
    assert envs, list((tmp_path / "pre-commit-home").iterdir())
    python = next(envs[0].glob("bin/python"))
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is None, u.find_spec('rflint') is not None)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.split() == ["True", "True"]

    # 3. The check hook passes on the fixed file.
    rerun = _pre_commit(["run", "rflint", "--all-files"], project, env)
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, out
    assert "CB102" not in out and "Passed" in out, out


def test_hook_definitions_match_what_rflint_reads() -> None:
    """The hooks' ``files`` pattern takes Python files and specs, and nothing else."""
    import re

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"rflint", "rflint-fix"}
    # pre-commit names every staged file: --force-exclude keeps the configured excludes working.
    assert hooks["rflint"]["entry"] == "rflint check --force-exclude"
    assert hooks["rflint-fix"]["entry"] == "rflint check --fix --force-exclude"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["require_serial"] is False
        files = re.compile(hook["files"])
        for name in ("model.py", "nets/unet.py", "enc.rflint.yaml", "enc.rflint.yml", "a/b.rflint.json"):
            assert files.search(name), name
        for name in (".github/workflows/ci.yaml", "package.json", "mkdocs.yml", "notes.txt", "model.pyc"):
            assert not files.search(name), name
