"""scripts/recipes.py: the one reader of recipe files (bench_arch.py and gpu_sweep.sh)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import recipes  # noqa: E402


def test_reads_each_run_skipping_blank_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("# a comment\n\nbase|--workers 2\n  # indented comment\n"
                    "wide | --widths 32,64,96,192 --arch residual \nplain|\n")
    got = recipes.read(path)
    assert [r.name for r in got] == ["base", "wide", "plain"]
    assert got[1].arguments == ["--widths", "32,64,96,192", "--arch", "residual"]
    assert got[1].settings.arch == "residual" and got[1].settings.widths == "32,64,96,192"
    assert got[0].settings.workers == 2 and got[2].arguments == []


@pytest.mark.parametrize(("text", "said"), [
    ("ok|\nno separator\n", "r.txt:2: want NAME|train.py arguments, got 'no separator'"),
    ("|--seed 3\n", "r.txt:1: want NAME|train.py arguments"),
    ("a b|--seed 3\n", "r.txt:1: name 'a b': use letters, digits"),
    ("x|\ny|\nx|--seed 2\n", "r.txt:3: name 'x' is used by an earlier line"),
    ("odd|--arch round\n", "r.txt:1: odd: train.py: error: argument --arch: invalid choice"),
    ("odd|--swa 3 --budget 60\n", "r.txt:1: odd: train.py: error: --budget with --swa"),
])
def test_a_wrong_line_is_named_with_what_is_wrong(tmp_path: Path, text: str,
                                                  said: str) -> None:
    path = tmp_path / "r.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as raised:
        recipes.read(path)
    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_the_command_prints_a_tab_separated_line_per_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text("# c\na|--seed 2  --lr 0.01\nb|\n")
    assert recipes.main([str(path)]) == 0
    assert capsys.readouterr().out == "a\t--seed 2 --lr 0.01\nb\t\n"
    path.write_text("a|--seed two\n")
    assert recipes.main([str(path)]) == 1
    assert "r.txt:1: a: " in capsys.readouterr().err
    assert recipes.main([]) == 2


def test_the_recipe_files_in_the_project_read_cleanly() -> None:
    files = sorted((SCRIPTS / "sweeps").glob("*.txt"))
    assert files
    for path in files:
        assert recipes.read(path), path
