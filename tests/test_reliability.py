"""Files that lie: run directories edited by hand, damaged models and data files. Each case is answered
with one line on stderr that names the file and what is wrong (exit 2) or a typed exception from the API,
and nothing is half-written. Every case carries a ``fault`` mark that scripts/reliability_table.py
collects into docs/reliability.md."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.rundir import load_run

TINY = """
[explore.jd]
lrs = [0.1]
epochs = 1

[explore.ls]
weights = [0.5]
lr = 0.1
epochs = 1
"""


def fault(what: str, answer: str) -> pytest.MarkDecorator:
    """The mark that lists a case in docs/reliability.md."""
    return pytest.mark.fault(what=what, answer=answer)


def refused(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    """The one line a refused command printed (exit 2, no traceback), checked for ``needles``."""
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A complete jd + ls run on digits (one point each), made once for the module."""
    root = tmp_path_factory.mktemp("reliability")
    (root / "tiny.toml").write_text(TINY)
    out = root / "run"
    assert main(["explore", "--forget", "random:0.5", "--solvers", "jd,ls", "--config", str(root / "tiny.toml"),
                 "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress"]) == 0
    return out


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ run directories edited by hand


def _csv(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        table = pd.read_csv(run / "points.csv", dtype=str, keep_default_na=False)
        edit(table).to_csv(run / "points.csv", index=False)
    return apply


def _set_cell(column: str, value: str, row: int = 1) -> Callable[[Path], None]:
    def edit(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table
    return _csv(edit)


def _summary(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        summary = json.loads((run / "summary.json").read_text())
        result = edit(summary)
        (run / "summary.json").write_text(json.dumps(summary if result is None else result))
    return apply


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: (run / name).write_bytes(data)


def _remove(name: str) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        path = run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return apply


def _rename_solver(run: Path) -> None:
    """A front (and a summary that agrees with it) holding a solver this version does not know."""
    summary, front = load_run(run)
    solver = np.where(front.solver == "ls", "my-solver", front.solver).astype(object)
    renamed = Front(front.objective_names, front.F, solver, metrics=front.metrics, cost=front.cost,
                    provenance=front.provenance, rebuild=front.rebuild, arrays=front.arrays,
                    anytime=front.anytime)
    renamed.save(run / "front")
    summary["solvers"]["my-solver"] = summary["solvers"].pop("ls")
    (run / "summary.json").write_text(json.dumps(summary))
    _csv(lambda t: t.replace({"solver": {"ls": "my-solver"}}))(run)


def _set(path: tuple[str, ...], value: object) -> Callable[[dict], None]:
    def edit(summary: dict) -> None:
        target = summary
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _drop(key: str) -> Callable[[dict], None]:
    return lambda summary: summary.pop(key) and None


RUN_DIR_CASES = [
    pytest.param("select", _set_cell("forget_kl", "abc"), ("points.csv", "forget_kl", "'abc'"),
                 marks=fault("text in a forget_kl cell of points.csv", "exit 2: names the row, the column and "
                             "the text"), id="points-text-in-forget_kl"),
    pytest.param("compare", _csv(lambda t: t.drop(columns=["retain_ce"])), ("points.csv", "retain_ce"),
                 marks=fault("points.csv without its retain_ce column", "exit 2: names the missing column"),
                 id="points-missing-retain_ce"),
    pytest.param("report", _csv(lambda t: t.assign(extra="1")), ("points.csv", "extra"),
                 marks=fault("points.csv with a column explore does not write", "exit 2: names the column"),
                 id="points-extra-column"),
    pytest.param("select", _set_cell("retain_ce", "nan"), ("points.csv", "retain_ce", "nan"),
                 marks=fault("NaN in a finite objective cell of points.csv", "exit 2: the cell and the "
                             "front's value"), id="points-nan-objective"),
    pytest.param("compare", _set_cell("forget_kl", "inf", row=2), ("points.csv", "forget_kl", "inf"),
                 marks=fault("inf in an objective cell of points.csv", "exit 2: the cell and the front's value"),
                 id="points-inf-objective"),
    pytest.param("report", _set_cell("RA", "12.5"), ("points.csv", "RA", "12.5"),
                 marks=fault("a metric edited in points.csv (table and front disagree)", "exit 2: the cell "
                             "and the front's value"), id="points-edited-metric"),
    pytest.param("select", _set_cell("wall_s", "-inf"), ("points.csv", "wall_s"),
                 marks=fault("-inf in a cost cell of points.csv", "exit 2: the cell"), id="points-inf-cost"),
    pytest.param("compare", _csv(lambda t: t.iloc[:-1]), ("points.csv", "rows"),
                 marks=fault("a row deleted from points.csv", "exit 2: rows vs the front's points"),
                 id="points-row-deleted"),
    pytest.param("report", _csv(lambda t: t.replace({"solver": {"jd": "ls"}})), ("points.csv", "solver"),
                 marks=fault("a solver name edited in points.csv", "exit 2: names the row and both names"),
                 id="points-solver-edited"),
    pytest.param("select", _remove("points.csv"), ("points.csv", "missing"),
                 marks=fault("points.csv deleted", "exit 2: the run directory is incomplete"),
                 id="points-missing"),
    pytest.param("compare", _write("points.csv", b""), ("points.csv",),
                 marks=fault("points.csv empty", "exit 2: cannot be read as a table"), id="points-empty"),
    pytest.param("report", _write("points.csv", b"\xff\xfe\x00garbage\x00\n\x81"), ("points.csv",),
                 marks=fault("points.csv of binary garbage", "exit 2: cannot be read as a table"),
                 id="points-binary"),
    pytest.param("select", _summary(_set(("schema_version",), 2)), ("summary.json", "newer", "upgrade"),
                 marks=fault("a run written by a newer format version", "exit 2: says which format and to "
                             "upgrade"), id="summary-newer-format"),
    pytest.param("compare", _summary(_set(("schema_version",), "one")), ("summary.json", "schema_version"),
                 marks=fault("schema_version that is not a number", "exit 2"), id="summary-version-text"),
    pytest.param("report", _write("summary.json", b'{"schema_version": 1, '), ("summary.json", "JSON"),
                 marks=fault("summary.json truncated", "exit 2: not valid JSON"), id="summary-truncated"),
    pytest.param("select", _summary(lambda s: [s]), ("summary.json", "list"),
                 marks=fault("summary.json holding a list", "exit 2: not an object"), id="summary-a-list"),
    pytest.param("compare", _summary(_drop("solvers")), ("summary.json", "solvers"),
                 marks=fault("summary.json without its solvers", "exit 2: names the missing key"),
                 id="summary-missing-key"),
    pytest.param("report", _summary(_set(("hv_reference_point",), [1.0])), ("hv_reference_point",),
                 marks=fault("a reference point of the wrong length", "exit 2"), id="summary-ref-length"),
    pytest.param("select", _write("summary.json", (b'{"schema_version": 1, "complete": true, "task": {}, '
                                                   b'"objectives": ["forget_kl", "retain_ce"], '
                                                   b'"hv_reference_point": [NaN, 1]}')),
                 ("summary.json", "NaN"),
                 marks=fault("NaN (not JSON) in summary.json", "exit 2: not valid JSON"), id="summary-nan"),
    pytest.param("compare", _summary(_set(("objectives",), "forget_kl")), ("objectives",),
                 marks=fault("objectives that are not a list", "exit 2"), id="summary-objectives-text"),
    pytest.param("report", _summary(_set(("solvers", "jd", "hv"), "big")), ("solvers.jd.hv", "'big'"),
                 marks=fault("text in a solver's row of summary.json", "exit 2: names the field"),
                 id="summary-row-text"),
    pytest.param("select", _summary(_set(("complete",), "yes")), ("complete",),
                 marks=fault("complete that is not true/false", "exit 2"), id="summary-complete-text"),
    pytest.param("compare", _summary(_set(("manifest", "versions"), ["torch"])), ("manifest", "versions"),
                 marks=fault("a manifest of the wrong shape", "exit 2"), id="summary-manifest"),
    pytest.param("report", _summary(lambda s: s["solvers"].pop("ls") and None), ("solvers", "front/"),
                 marks=fault("summary and front name other solvers", "exit 2: both lists"),
                 id="summary-front-solvers-disagree"),
    pytest.param("select", _summary(_set(("solvers", "jd", "n_points"), 7)), ("n_points", "7") if False
                 else ("jd", "7"), marks=fault("summary's point count is not the front's", "exit 2"),
                 id="summary-front-counts-disagree"),
    pytest.param("compare", _summary(_set(("objectives",), ["retain_ce", "forget_kl"])), ("objectives",),
                 marks=fault("summary and front name other objectives", "exit 2"),
                 id="summary-front-objectives-disagree"),
    pytest.param("report", _remove("front"), ("front", "missing"),
                 marks=fault("front/ deleted", "exit 2: the run directory is incomplete"), id="front-missing"),
    pytest.param("select", _remove("front/front.npz"), ("front.npz",),
                 marks=fault("front/front.npz deleted", "exit 2: missing or its SHA-256 differs"),
                 id="front-npz-missing"),
    pytest.param("compare", _write("front/front.json", b"{not json"), ("front.json",),
                 marks=fault("front/front.json damaged", "exit 2: not valid JSON"), id="front-json-damaged"),
    pytest.param("report", _rename_solver, ("my-solver",),
                 marks=fault("a solver name this version does not know", "exit 2: names it"),
                 id="unknown-solver"),
    pytest.param("select", _remove("summary.json"), ("summary.json",),
                 marks=fault("summary.json deleted", "exit 2: not a run directory"), id="summary-missing"),
]


def _command(command: str, run: Path, tmp_path: Path, cache_dir: Path) -> list[str]:
    if command == "select":
        return ["select", str(run), "--cache-dir", str(cache_dir)]
    if command == "compare":
        return ["compare", str(run), "--out", str(tmp_path / "compared")]
    return ["report", str(run)]


@pytest.mark.parametrize("command, edit, needles", RUN_DIR_CASES)
def test_a_run_directory_edited_by_hand_is_refused(command, edit, needles, run_dir: Path, tmp_path: Path,
                                                    cache_dir: Path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    edit(run)
    before = _files(run)
    line = refused(capsys, main(_command(command, run, tmp_path, cache_dir)), *needles)
    assert str(run) in line or "summary.json" in line
    assert _files(run) == before  # nothing written into the run (no half-written report)
    assert not (tmp_path / "compared").exists()
    with pytest.raises(RunDirError):  # the API's answer is a typed error
        load_run(run)
