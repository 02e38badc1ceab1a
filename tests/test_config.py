"""Configuration: discovery, validation messages, and ruff's selection semantics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rflint.config import Config, ConfigError, ModelEntry, default_config, find_config, load_config
from rflint.settings import ModelSettings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_from(tmp_path: Path, text: str, name: str = "rflint.toml") -> Config:
    return load_config(write(tmp_path / name, text))


# --------------------------------------------------------------------------- find_config


def test_nearest_config_wins(tmp_path: Path) -> None:
    outer = write(tmp_path / "pyproject.toml", "[tool.rflint]\nselect = ['CB']\n")
    inner = write(tmp_path / "pkg" / "rflint.toml", "select = ['AA']\n")
    model = write(tmp_path / "pkg" / "nets" / "unet.py", "")
    assert find_config(model) == inner
    assert find_config(model.parent) == inner
    assert find_config(tmp_path / "other") == outer  # a path that does not exist yet
    assert find_config(tmp_path) == outer


def test_rflint_toml_wins_over_pyproject_in_same_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.rflint]\nselect = ['CB']\n")
    ours = write(tmp_path / "rflint.toml", "select = ['AA']\n")
    assert find_config(tmp_path) == ours
    assert load_config(ours).select == ["AA"]


def test_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    outer = write(tmp_path / "pyproject.toml", "[tool.rflint]\ntask = 'detection'\n")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n[tool.ruff]\nline-length = 100\n")
    # mentions rflint only in a comment: still not ours
    write(tmp_path / "pkg" / "sub" / "pyproject.toml", "# uses rflint\n[project]\nname = 'sub'\n")
    assert find_config(tmp_path / "pkg" / "sub" / "m.py") == outer


def test_broken_pyproject_that_mentions_rflint_is_found_and_reported(tmp_path: Path) -> None:
    broken = write(tmp_path / "pyproject.toml", "[tool.rflint\nselect = ['CB']\n")
    assert find_config(tmp_path) == broken
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: .*line 1"):
        load_config(broken)


def test_no_config_found(tmp_path: Path) -> None:
    # tmp_path may sit below a directory with a config on some machines; look from an isolated spot
    found = find_config(tmp_path)
    assert found is None or tmp_path not in found.parents


def test_default_config_is_rooted_at_cwd(in_tmp: Path) -> None:
    config = Config()
    assert config.root == in_tmp
    assert config.path is None
    assert default_config(in_tmp / "x").root == in_tmp / "x"


# --------------------------------------------------------------------------- loading


def test_load_pyproject_values_and_settings(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        """
[project]
name = "demo"

[tool.rflint]
input-size = [512, 768]
object-size = [16, 320]
task = "segmentation"
batch-size = 8
respect-gitignore = false
exclude = ["build"]
extend-exclude = ["legacy/*.py"]

[[tool.rflint.models]]
entry = "nets/unet.py::UNet(in_channels=3, depth=5)"
input-size = 256
task = "dense"

[tool.rflint.rules.AA101]
pool-only = true
""",
        name="pyproject.toml",
    )
    assert config.root == tmp_path
    assert config.path == tmp_path / "pyproject.toml"
    assert config.respect_gitignore is False
    settings = config.settings()
    assert settings == ModelSettings(input_size=(512, 768), object_size=(16, 320), task="segmentation", batch_size=8)
    assert settings.rule_options == {"AA101": {"pool-only": True}}
    (model,) = config.models
    assert (model.file, model.name, model.args) == ("nets/unet.py", "UNet", "(in_channels=3, depth=5)")
    merged = model.settings(settings)
    assert merged.input_size == (256,) and merged.task == "dense" and merged.object_size == (16, 320)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("320", (1, 320)), ("[16, 320]", (16, 320)), ('"16..320"', (16, 320)), ("[8, 8]", (8, 8))],
)
def test_object_size_forms(tmp_path: Path, value: str, expected: tuple[int, int]) -> None:
    assert config_from(tmp_path, f"object-size = {value}\n").object_size == expected


def test_input_size_int_means_every_axis(tmp_path: Path) -> None:
    assert config_from(tmp_path, "input-size = 224\n").settings().input_size == (224,)


def test_unknown_key_with_suggestion(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, "selct = ['CB']\n")
    assert str(info.value) == "rflint.toml: unknown key 'selct' (did you mean 'select'?)"


def test_unknown_key_in_pyproject_names_table(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, "[tool.rflint]\ninput_size = 3\nfrobnicate = 1\n", name="pyproject.toml")
    assert info.value.problems == (
        "pyproject.toml: [tool.rflint] unknown key 'input_size' (did you mean 'input-size'?)",
        "pyproject.toml: [tool.rflint] unknown key 'frobnicate'",
    )


def test_unknown_key_in_model_table(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, "[[models]]\nentry = 'a.py::Net'\nobject_size = 3\n")
    assert str(info.value) == "rflint.toml: models[0]: unknown key 'object_size' (did you mean 'object-size'?)"


def test_bad_value_names_key_and_file(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, "[tool.rflint]\ninput-size = 'big'\n", name="pyproject.toml")
    message = str(info.value)
    assert message.startswith("pyproject.toml: [tool.rflint] input-size: Input should be a valid integer")
    assert "Traceback" not in message and "pydantic" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task = 'Detection'", "rflint.toml: task: Input should be 'classification', 'detection'"),
        ("batch-size = 0", "rflint.toml: batch-size: Input should be greater than 0"),
        ("batch-size = '8'", "rflint.toml: batch-size: Input should be a valid integer"),
        ("object-size = [30, 10]", "rflint.toml: object-size: min should be at most max, got [30, 10]"),
        ("object-size = [0, 10]", "rflint.toml: object-size: sizes should be positive"),
        ("input-size = [1, 3, 224, 224]", "rflint.toml: input-size: expected 1 to 3 spatial sizes"),
        ("input-size = [224, true]", "rflint.toml: input-size: item 1: Input should be a valid integer"),
        ("respect-gitignore = 'yes'", "rflint.toml: respect-gitignore: Input should be a valid boolean"),
        ("select = 'CB'", "rflint.toml: select: Input should be a valid list"),
        ("select = ['cb1']", "rflint.toml: select[0]: 'cb1' is not a rule selector"),
        ("ignore = ['E501']", "rflint.toml: ignore[0]: 'E501' is not an rflint rule selector"),
        ("per-file-ignores = { 'tests/*.py' = ['XX'] }", 'rflint.toml: per-file-ignores."tests/*.py"[0]: \'XX\''),
        ("[rules.AA1]\npool-only = true", "rflint.toml: rules.AA1: 'AA1' is not a rule code"),
        ("[[models]]\nentry = 'nets/unet.py'", "rflint.toml: models[0].entry: expected 'path/to/file.py::Name'"),
        ("fail-on = 'fatal'", "rflint.toml: fail-on"),
    ],
)
def test_bad_values(in_tmp: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, text + "\n")
    assert str(info.value).startswith(expected), str(info.value)


def test_every_problem_is_reported(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from(in_tmp, "task = 'x'\nbatch-size = -1\nselct = []\n")
    assert len(info.value.problems) == 3
    assert all(p.startswith("rflint.toml: ") for p in info.value.problems)


def test_toml_syntax_error(in_tmp: Path) -> None:
    with pytest.raises(ConfigError, match=r"^rflint.toml: invalid TOML: "):
        config_from(in_tmp, "select = [\n")


def test_config_path_shown_relative_to_cwd(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(in_tmp / "sub" / "rflint.toml", "task = 1\n"))
    assert str(info.value).startswith(f"sub{os.sep}rflint.toml: task: ")


def test_tool_rflint_must_be_a_table(in_tmp: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[tool.rflint\] should be a table"):
        config_from(in_tmp, "[tool]\nrflint = 1\n", name="pyproject.toml")


# --------------------------------------------------------------------------- selection


def enabled(config: Config, code: str, default: bool = True, path: str | None = None) -> bool:
    return config.is_enabled(code, path, default)


def test_defaults_follow_each_rules_default(tmp_path: Path) -> None:
    config = config_from(tmp_path, "")
    assert enabled(config, "CB101", True)
    assert not enabled(config, "CB103", False)


def test_select_replaces_default_set(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['CB']\n")
    assert enabled(config, "CB101") and enabled(config, "CB102")
    assert enabled(config, "CB103", default=False)  # explicitly selected by prefix, as in ruff
    assert not enabled(config, "AA101")


def test_extend_select_adds_to_defaults(tmp_path: Path) -> None:
    config = config_from(tmp_path, "extend-select = ['RF102']\n")
    assert enabled(config, "RF102", default=False)
    assert enabled(config, "AA101")
    assert not enabled(config, "CB103", default=False)


def test_ignore_by_prefix(tmp_path: Path) -> None:
    config = config_from(tmp_path, "ignore = ['CB1']\n")
    assert not enabled(config, "CB101") and not enabled(config, "CB102")
    assert enabled(config, "AA101")


def test_more_specific_ignore_wins(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['CB']\nignore = ['CB102']\n")
    assert enabled(config, "CB101") and not enabled(config, "CB102")


def test_more_specific_select_wins(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['CB102']\nignore = ['CB']\n")
    assert enabled(config, "CB102") and not enabled(config, "CB101")


def test_equal_specificity_ignore_wins(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['CB102']\nignore = ['CB102']\n")
    assert not enabled(config, "CB102")


def test_all_is_least_specific(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['ALL']\nignore = ['AA']\n")
    assert enabled(config, "RF102", default=False) and not enabled(config, "AA101")
    config = config_from(tmp_path, "ignore = ['ALL']\nextend-select = ['CB1']\n")
    assert enabled(config, "CB101") and not enabled(config, "AA101")


def test_command_line_layer(tmp_path: Path) -> None:
    config = config_from(tmp_path, "select = ['CB']\nignore = ['CB102']\n")
    # --extend-select keeps the file's selection and adds to it
    cli = config.with_overrides(extend_select=["AA101"])
    assert enabled(cli, "AA101") and enabled(cli, "CB101") and not enabled(cli, "CB102")
    # --select replaces it
    cli = config.with_overrides(select=["AA"])
    assert enabled(cli, "AA101") and not enabled(cli, "CB101")
    # --ignore on top
    cli = config.with_overrides(ignore=["CB101"])
    assert not enabled(cli, "CB101")
    assert cli.root == config.root and cli.path == config.path
    assert enabled(config, "CB101")  # the original is unchanged


def test_command_line_values_are_validated(tmp_path: Path) -> None:
    config = config_from(tmp_path, "")
    assert config.with_overrides(input_size=[256, 256]).settings().input_size == (256, 256)
    with pytest.raises(ConfigError) as info:
        config.with_overrides(select=["E501"], batch_size=0)
    assert info.value.problems[0].startswith("--select: 'E501' is not an rflint rule selector")
    assert info.value.problems[1] == "--batch-size: Input should be greater than 0"


def test_unknown_codes_are_listed_against_the_registry(in_tmp: Path) -> None:
    config = config_from(in_tmp, "select = ['CB', 'CB109']\n[rules.AA109]\nx = 1\n")
    assert config.unknown_codes(["CB101", "AA101"]) == [
        "rflint.toml: select: unknown rule selector 'CB109' (did you mean 'CB101'?)",
        "rflint.toml: rules.AA109: unknown rule code 'AA109' (did you mean 'AA101'?)",
    ]


def test_fingerprint_changes_with_settings(tmp_path: Path) -> None:
    a = config_from(tmp_path, "input-size = 224\n")
    b = config_from(tmp_path, "input-size = 225\n")
    assert a.fingerprint() == config_from(tmp_path, "input-size = 224\n").fingerprint()
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() != a.with_overrides(ignore=["CB"]).fingerprint()


# --------------------------------------------------------------------------- per-file-ignores


PFI = """
[per-file-ignores]
"tests/*.py" = ["RF"]
"__init__.py" = ["ALL"]
"**/legacy/*.py" = ["CB1"]
"nets/gen_*.py" = ["AA101"]
"!nets/**" = ["PD"]
"""


@pytest.mark.parametrize(
    ("code", "path", "expected"),
    [
        ("RF101", "tests/test_a.py", False),
        ("RF101", "tests/unit/test_a.py", False),  # ruff's globs: `*` crosses directories
        ("RF101", "src/tests/test_a.py", True),  # anchored at the config's directory
        ("AA101", "tests/test_a.py", True),
        ("AA101", "pkg/sub/__init__.py", False),  # no slash: the bare file name, anywhere
        ("CB101", "legacy/old.py", False),  # `**/` matches zero directories
        ("CB101", "a/b/legacy/old.py", False),
        ("CB201", "a/b/legacy/old.py", True),
        ("AA101", "nets/gen_unet.py", False),
        ("AA101", "nets/unet.py", True),
        ("PD101", "nets/unet.py", True),  # negated pattern: applies outside nets/ only
        ("PD101", "tools/x.py", False),
    ],
)
def test_per_file_ignores(tmp_path: Path, code: str, path: str, expected: bool) -> None:
    config = config_from(tmp_path, PFI)
    assert config.is_enabled(code, str(tmp_path / path), True) is expected
    # relative to the working directory works the same when cwd is the root
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert config.is_enabled(code, path, True) is expected
    finally:
        os.chdir(cwd)


def test_per_file_ignores_outside_root(tmp_path: Path) -> None:
    config = config_from(tmp_path / "proj", PFI)
    assert config.is_enabled("RF101", str(tmp_path / "elsewhere" / "tests" / "a.py"), True)
    assert not config.is_enabled("AA101", str(tmp_path / "elsewhere" / "__init__.py"), True)


def test_per_file_ignores_do_not_enable(tmp_path: Path) -> None:
    config = config_from(tmp_path, "ignore = ['RF']\n" + PFI)
    assert not config.is_enabled("RF101", str(tmp_path / "src" / "m.py"), True)


def test_model_entry_forms() -> None:
    entry = ModelEntry("a/b.py::resnet50")
    assert (entry.file, entry.name, entry.args) == ("a/b.py", "resnet50", "")
    entry = ModelEntry("b.py::Net(cfg={'a': (1, 2)})")
    assert entry.args == "(cfg={'a': (1, 2)})"


def test_find_config_with_a_run_memo_answers_like_a_fresh_walk(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    (tmp_path / "rflint.toml").write_text("")
    (tmp_path / "a" / "b" / "pyproject.toml").write_text("[tool.rflint]\n")
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.black]\n")  # not ours
    memo: dict[Path, Path | None] = {}
    for start in ("a/b/c/m.py", "a/m.py", "a/b/m.py", "x/m.py", "a/b/c", "m.py"):
        assert find_config(tmp_path / start, memo) == find_config(tmp_path / start), start
    assert memo[tmp_path / "a"] == tmp_path / "rflint.toml"
    assert memo[tmp_path / "a" / "b" / "c"] == tmp_path / "a" / "b" / "pyproject.toml"


def test_rule_options_are_checked_when_the_configuration_is_loaded(tmp_path) -> None:
    """``treshold`` (misspelt) and ``threshold = "high"`` were accepted, the second then an
    internal error (RL000) on every model: each rule declares its options, and a run
    names the key before it checks anything (exit 2)."""
    import subprocess
    import sys

    (tmp_path / "m.py").write_text("import torch.nn as nn\n")
    path = tmp_path / "rflint.toml"

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rflint", "check", ".", "--no-cache"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    path.write_text('[rules.PD103]\ntreshold = 0.2\n[rules.AA101]\npool-only = "yes"\n[rules.RF101]\nfoo = 1\n')
    out = run()
    assert out.returncode == 2
    assert "rflint.toml: rules.PD103.treshold: unknown option for PD103 (its options: threshold); did you mean 'threshold'?" in out.stderr
    assert "rflint.toml: rules.AA101.pool-only: expected true or false, got 'yes'" in out.stderr
    assert "rflint.toml: rules.RF101.foo: unknown option for RF101 (its options: none)" in out.stderr
    path.write_text('[rules.PD103]\nthreshold = "high"\n')
    out = run()
    assert out.returncode == 2 and "rules.PD103.threshold: must be a share between 0 and 1" in out.stderr
    path.write_text('[rules.PD103]\nthreshold = 0.2\n[rules.AA102]\nblur-classes = ["mylib.Blur"]\n'
                    '[rules.AA101]\npool_only = true\n')
    assert run().returncode == 0


def test_model_entries_must_name_a_file_inside_the_project(tmp_path) -> None:
    """``[[models]] entry = "../../etc/passwd::X"`` or a missing file: a configuration
    error naming the entry (exit 2), before anything is read."""
    import subprocess
    import sys

    (tmp_path / "m.py").write_text("import torch.nn as nn\n")

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rflint", "check", ".", "--no-cache"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    (tmp_path / "rflint.toml").write_text('[[models]]\nentry = "../outside.py::Net"\n[[models]]\nentry = "nets/gone.py::Net"\n')
    (tmp_path.parent / "outside.py").write_text("x = 1\n")
    out = run()
    assert out.returncode == 2, out.stdout
    assert "rflint.toml: models[0].entry: ../outside.py is outside the project" in out.stderr
    assert "rflint.toml: models[1].entry: nets/gone.py does not exist" in out.stderr
    (tmp_path / "rflint.toml").write_text('[[models]]\nentry = "m.py::Net"\n')
    assert run().returncode != 2
