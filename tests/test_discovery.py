"""File discovery: what a directory walk reads, gitignore semantics, explicit paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from rflint.config import Config, default_config, load_config
from rflint.discovery import GitIgnore, compile_glob, iter_files


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def found(root: Path, config: Config | None = None, paths: list[Path] | None = None) -> list[str]:
    files, errors = iter_files(paths or [root], config or default_config(root))
    assert errors == []
    return [p.relative_to(root).as_posix() for p in files]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- the walk


def test_picks_sources_and_specs_sorted(tmp_path: Path) -> None:
    touch(tmp_path, "b.py", "a.py", "sub/c.py", "net.rflint.yaml", "net.rflint.yml", "net.rflint.json",
          "README.md", "data.yaml", "notes.json", "model.onnx", "x.pyc")
    assert found(tmp_path) == ["a.py", "b.py", "net.rflint.json", "net.rflint.yaml", "net.rflint.yml", "sub/c.py"]


def test_skips_hidden_caches_installed_packages_and_venvs(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "keep.py",
        ".hidden/x.py",
        ".git/hooks/x.py",
        "__pycache__/x.py",
        "lib/python3.11/site-packages/torch/nn.py",
        "usr/lib/python3/dist-packages/pkg/m.py",
        "node_modules/pkg/m.py",
        "venv/lib/m.py",
        ".venv/lib/m.py",
        "myenv/pyvenv.cfg",
        "myenv/lib/m.py",
        "myenv/top.py",
    )
    assert found(tmp_path) == ["keep.py"]


def test_explicit_file_always_included(in_tmp: Path) -> None:
    touch(in_tmp, "build/model.py", "weird.txt", ".venv/lib/site-packages/pkg/net.py", ".gitignore")
    (in_tmp / ".gitignore").write_text("build/\n*.txt\n")
    config = load_config(_write(in_tmp / "rflint.toml", "exclude = ['build']\n"))
    paths = [Path("build/model.py"), Path("weird.txt"), Path(".venv/lib/site-packages/pkg/net.py")]
    files, errors = iter_files(paths, config)
    assert errors == []
    assert files == [Path(".venv/lib/site-packages/pkg/net.py"), Path("build/model.py"), Path("weird.txt")]


def test_explicit_directory_is_walked_even_if_excluded(in_tmp: Path) -> None:
    touch(in_tmp, "build/model.py", "build/sub/x.py")
    config = load_config(_write(in_tmp / "rflint.toml", "exclude = ['build']\n"))
    assert found(in_tmp, config) == []
    assert iter_files([Path("build")], config)[0] == [Path("build/model.py"), Path("build/sub/x.py")]


def test_missing_path_is_an_error_naming_it(in_tmp: Path) -> None:
    touch(in_tmp, "a.py")
    files, errors = iter_files([Path("a.py"), Path("nope.py"), Path("gone")], default_config(in_tmp))
    assert files == [Path("a.py")]
    assert errors == ["nope.py: No such file or directory", "gone: No such file or directory"]


def test_no_duplicates_and_user_spelling_kept(in_tmp: Path) -> None:
    touch(in_tmp, "pkg/a.py", "pkg/b.py")
    files, _ = iter_files([Path("pkg"), Path("pkg/a.py"), Path("./pkg/b.py"), in_tmp / "pkg"], default_config(in_tmp))
    assert files == [Path("pkg/a.py"), Path("pkg/b.py")]


def test_config_exclude_and_extend_exclude(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "build/x.py", "src/build/y.py", "nets/legacy/old.py", "nets/new.py",
          "nets/gen_x.py", "tools/z.py")
    config = load_config(
        _write(tmp_path / "rflint.toml",
               "exclude = ['build', 'nets/legacy']\nextend-exclude = ['gen_*.py', '/tools/']\n")
    )
    assert found(tmp_path, config) == ["a.py", "nets/new.py"]


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.py")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "b.py").symlink_to(tmp_path / "real" / "a.py")
    assert found(tmp_path) == ["b.py", "real/a.py"]


# --------------------------------------------------------------------------- gitignore


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_gitignore_basic_and_negation(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "gen_a.py", "gen_keep.py", "sub/gen_b.py", "sub/c.py")
    _write(tmp_path / ".gitignore", "# generated code\ngen_*.py\n!gen_keep.py\n\n")
    assert found(tmp_path) == ["a.py", "gen_keep.py", "sub/c.py"]


def test_gitignore_last_match_wins(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.py")
    _write(tmp_path / ".gitignore", "!a.py\n*.py\n!b.py\n")
    assert found(tmp_path) == ["b.py"]


def test_gitignore_anchored_patterns(tmp_path: Path) -> None:
    touch(tmp_path, "top.py", "sub/top.py", "docs/conf.py", "src/docs/conf.py", "x/y/z.py", "a/x/y/z.py")
    _write(tmp_path / ".gitignore", "/top.py\ndocs/conf.py\nx/y\n")
    assert found(tmp_path) == ["a/x/y/z.py", "src/docs/conf.py", "sub/top.py"]


def test_gitignore_dir_only_patterns(tmp_path: Path) -> None:
    touch(tmp_path, "out/a.py", "pkg/out/b.py", "pkg/out.py", "keep.py")
    _write(tmp_path / ".gitignore", "out/\n")
    assert found(tmp_path) == ["keep.py", "pkg/out.py"]


def test_gitignore_double_star(tmp_path: Path) -> None:
    touch(tmp_path, "a/b/c/gen/x.py", "gen/y.py", "logs/one.py", "logs/deep/two.py", "logs.py",
          "m/foo/n/bar.py", "m/bar.py", "m/foo/bar.py", "keep.py")
    _write(tmp_path / ".gitignore", "**/gen\nlogs/**\nm/**/bar.py\n")
    assert found(tmp_path) == ["keep.py", "logs.py"]


def test_gitignore_star_does_not_cross_directories(tmp_path: Path) -> None:
    touch(tmp_path, "nets/a.py", "nets/sub/b.py")
    _write(tmp_path / ".gitignore", "nets/*.py\n")
    assert found(tmp_path) == ["nets/sub/b.py"]


def test_cannot_reinclude_inside_ignored_directory(tmp_path: Path) -> None:
    touch(tmp_path, "build/keep.py", "build2/keep.py", "build2/drop.py")
    _write(tmp_path / ".gitignore", "build/\n!build/keep.py\nbuild2/*\n!build2/keep.py\n")
    assert found(tmp_path) == ["build2/keep.py"]


def test_nested_gitignore_applies_to_its_subtree(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "tmp.py", "sub/tmp.py", "sub/b.py", "sub/deep/c.py", "other/b.py")
    _write(tmp_path / ".gitignore", "tmp.py\n")
    _write(tmp_path / "sub" / ".gitignore", "b.py\n/deep/\n!tmp.py\n")
    assert found(tmp_path) == ["a.py", "other/b.py", "sub/tmp.py"]


def test_gitignore_of_parent_applies_when_walking_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    touch(tmp_path, "src/a.py", "src/gen/b.py")
    _write(tmp_path / ".gitignore", "/src/gen/\n")
    files, _ = iter_files([tmp_path / "src"], default_config(tmp_path / "src"))
    assert files == [tmp_path / "src" / "a.py"]


def test_gitignore_character_class_and_escapes(tmp_path: Path) -> None:
    touch(tmp_path, "v1.py", "v2.py", "va.py", "#x.py", "!y.py", "z.py")
    _write(tmp_path / ".gitignore", "v[0-9].py\n\\#x.py\n\\!y.py\nz.py   \n")
    assert found(tmp_path) == ["va.py"]


def test_respect_gitignore_false(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.py")
    _write(tmp_path / ".gitignore", "b.py\n")
    config = load_config(_write(tmp_path / "rflint.toml", "respect-gitignore = false\n"))
    assert found(tmp_path, config) == ["a.py", "b.py"]


def test_gitignore_unit() -> None:
    gi = GitIgnore("/r", ["*.log", "!keep.log", "build/", "/root.py", "a/**/z", "# c", ""])
    assert gi.match("x.log", False) is True
    assert gi.match("d/x.log", False) is True
    assert gi.match("keep.log", False) is False
    assert gi.match("build", True) is True
    assert gi.match("build", False) is None
    assert gi.match("root.py", False) is True
    assert gi.match("d/root.py", False) is None
    assert gi.match("a/z", False) is True and gi.match("a/b/c/z", True) is True


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("tests/*", "tests/a/b.py", True),
        ("*.py", "a/b.py", True),
        ("**/legacy/*.py", "legacy/x.py", True),
        ("**/legacy/*.py", "a/legacy/x.py", True),
        ("**/{tests,docs}/*", "a/docs/x.py", True),
        ("**/{tests,docs}/*", "a/src/x.py", False),
        ("nets/gen_?.py", "nets/gen_a.py", True),
        ("nets/gen_?.py", "nets/gen_ab.py", False),
        ("[!a]*.py", "b.py", True),
        ("[!a]*.py", "a.py", False),
    ],
)
def test_config_globs(pattern: str, path: str, expected: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is expected
