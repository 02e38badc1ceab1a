"""Results do not depend on how the work is split: one worker or two, any file order.

The files are torchvision's own, read (never imported): ``quantization/resnet.py``
builds ``resnet.py``'s blocks, so the same layer is reached from two files and the
finding kept for it must not depend on which worker got there first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rflint import api
from rflint.cli import main

FILES = ("resnet.py", "quantization/resnet.py", "vgg.py", "mobilenetv2.py", "squeezenet.py")


@pytest.fixture(scope="module")
def files() -> list[Path]:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed")
    models = Path(spec.origin).parent / "models"
    return [models / f for f in FILES]


def _run(paths: list[Path], jobs: int) -> list[str]:
    result = api.check_paths(paths, discover_config=False, use_cache=False, jobs=jobs)
    return [repr(d) for d in result.diagnostics]


def test_one_worker_two_workers_and_file_order_give_the_same_findings(files, monkeypatch) -> None:
    monkeypatch.setattr(api, "_PARALLEL_MIN_BYTES", 0)  # two workers even for a few files
    serial = _run(files, jobs=1)
    assert any("AA101" in d for d in serial)  # the blocks' strided convolutions, found
    assert _run(files, jobs=2) == serial
    assert _run(list(reversed(files)), jobs=2) == serial
    assert _run(list(reversed(files)), jobs=1) == serial


def test_jobs_from_the_command_line_and_the_environment(files, capsys, monkeypatch) -> None:
    monkeypatch.setattr(api, "_PARALLEL_MIN_BYTES", 0)
    path = str(files[0])
    assert main(["check", path, "--no-cache", "--jobs", "2", "--output-format", "concise"]) == 1
    two = capsys.readouterr().out
    monkeypatch.setenv("RFLINT_JOBS", "1")
    assert main(["check", path, "--no-cache", "--output-format", "concise"]) == 1
    assert capsys.readouterr().out == two


def test_a_bad_jobs_value_is_an_error_naming_where_it_came_from(files, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RFLINT_JOBS", "many")
    assert main(["check", str(files[0]), "--no-cache"]) == 2
    assert "RFLINT_JOBS" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(files[0]), "--jobs", "0"])
    assert exit_.value.code == 2
