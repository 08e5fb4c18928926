"""The study scripts in scripts/ run: each on its tiniest settings (``--quick``), the shell study with a
one-case smoke run, its table and the demo docs on that run; every script the README and docs/ name
exists."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _models(digits_task):
    """θ0 and Retrain of digits random 50 % seed 0 in the session cache, which the scripts read."""
    return digits_task


def test_every_script_the_docs_name_exists():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {m for path in texts for m in re.findall(r"scripts/([\w.-]+\.(?:py|sh))", path.read_text())}
    assert named, "the README and docs/ name no script"
    assert sorted(n for n in named if not (SCRIPTS / n).is_file()) == []
    assert not list(SCRIPTS.glob("issue*")), "scripts are named for what they study"


def test_warm_search_levers_quick_restores_the_fine_tune():
    levers = _script("warm_search_levers")
    lines = levers.main(["--quick", "default (6 offspring, E=2)", "UPGrad steps (memetic)"])
    assert len(lines) == 2 and all("HV " in line and "cost" in line for line in lines)
    import pareto_unlearn.solvers.evolutionary._ls_weights as ls_weights

    assert ls_weights._fine_tune is levers.LS_FINE_TUNE  # the memetic variant's patch is undone
    with pytest.raises(SystemExit):
        levers.main(["--quick", "no such variant"])


@pytest.mark.parametrize("name, n_lines", [("three_objective_algorithms", 5), ("trajectory_subspace", 1)])
def test_study_script_quick(name, n_lines):
    lines = _script(name).main(["--quick"])
    assert len(lines) == n_lines and all("HV" in line for line in lines)


def test_objective_families_quick():
    families, conflicts = _script("objective_families").main(["--quick"])
    assert len(families) == 9 and set(families["aggregator"]) == {"upgrad", "pama", "mgda"}
    assert set(conflicts["pair"]) == {"forget_kl pair", "push-pull pair"}


@pytest.mark.slow  # about 20 s
def test_evolutionary_study_table_and_demo_docs(tmp_path: Path):
    out = tmp_path / "study"
    env = {**os.environ, "SEEDS": "0", "CASES": "r-uni", "SOLVERS": "jd,ls,nsga2-ls-warm", "QUICK": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["bash", str(SCRIPTS / "evolutionary_vs_gradient.sh"), str(out)], env=env, check=True,
                   capture_output=True, timeout=300)
    table = _script("evolutionary_vs_gradient_table").main([str(out)])
    assert set(table["solver"]) >= {"jd", "ls", "nsga2-ls-warm"}
    assert (out / "evolutionary_vs_gradient.csv").is_file()

    docs = tmp_path / "docs"
    path = _script("demo_docs").main(["--skip-demo", "--run", str(out / "s0-r-uni"), "--docs", str(docs)])
    text = path.read_text()
    assert "## Solvers" in text and "nsga2-ls-warm" in text and "chosen: solver" in text
    figures = sorted(p.name for p in docs.glob("demo_*.png"))
    assert "demo_fronts.png" in figures and all(f"({name})" in text for name in figures)


def test_fair_comparison_quick(tmp_path):
    lines = _script("fair_comparison").main(["--quick", "--work", str(tmp_path / "w"),
                                             "--md", str(tmp_path / "f.md")])
    text = "\n".join(lines)
    assert "### Goals" in text and "same space, last-layer" in text and "not dominated" in text
    assert (tmp_path / "f.png").is_file() and (tmp_path / "f.md").read_text() == text


def test_table1_digits_quick_writes_every_row(tmp_path):
    from pareto_unlearn.experiments import TABLE_ROWS

    doc = tmp_path / "table1.md"
    text = _script("table1_digits").main(["--quick", "--runs", str(tmp_path / "runs"), "--doc", str(doc)])
    assert doc.read_text() == text
    sections = text.split("\n## ")[1:]
    assert len(sections) == 3
    for section in sections:
        assert all(f"| {row} |" in section for row in TABLE_ROWS), section.splitlines()[0]
    assert "IU α {" in text  # the grids are read from the defaults
