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
    assert main(["explore", "--forget", "random:0.5", "--solvers", "jd,ls", "--config",
                 str(root / "tiny.toml"), "--out", str(out), "--cache-dir", str(cache_dir),
                 "--no-progress"]) == 0
    return out


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


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
                 marks=fault("text in a forget_kl cell of points.csv",
                             "exit 2: names the row, the column and the text"),
                 id="points-text-in-forget_kl"),
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
                 marks=fault("inf in an objective cell of points.csv",
                             "exit 2: the cell and the front's value"),
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
                 marks=fault("front/ deleted", "exit 2: the run directory is incomplete"),
                 id="front-missing"),
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


# ------------------------------------------------------------------ models that lie


def _tiny_model(n_classes: int = 4):
    from pareto_unlearn.task import build_model

    return build_model("mlp", n_classes=n_classes, input_shape=(1, 8, 8), seed=0)


def _state(model) -> dict:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _truncate(path: Path, state: dict) -> None:
    from safetensors.torch import save_file

    save_file(state, str(path))
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _save(edit: Callable[[dict], dict]) -> Callable[[Path, dict], None]:
    def apply(path: Path, state: dict) -> None:
        from safetensors.torch import save_file

        save_file(edit(state), str(path))
    return apply


def _poison(value: float) -> Callable[[dict], dict]:
    def edit(state: dict) -> dict:
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key].view(-1)[0] = value
        return state
    return edit


def _rename(state: dict) -> dict:
    key = next(iter(state))
    state["renamed." + key] = state.pop(key)
    return state


def _reshape(state: dict) -> dict:
    return _state(_tiny_model(n_classes=7))


MODEL_CASES = [
    pytest.param(_truncate, "safetensors", marks=fault("a safetensors model cut in half",
                                                        "CacheError naming the file; the cache retrains"),
                 id="model-truncated"),
    pytest.param(_save(_rename), "keys do not match", marks=fault("a safetensors model with other tensor "
                 "names", "CacheError naming the keys; the cache retrains"), id="model-other-names"),
    pytest.param(_save(_reshape), "shape", marks=fault("a safetensors model with other shapes",
                 "CacheError naming the tensor and both shapes; the cache retrains"),
                 id="model-other-shapes"),
    pytest.param(_save(_poison(float("nan"))), "NaN or inf", marks=fault(
        "a safetensors model holding NaN", "CacheError naming the tensor; the cache retrains"),
        id="model-nan"),
    pytest.param(_save(_poison(float("inf"))), "NaN or inf", marks=fault(
        "a safetensors model holding inf", "CacheError naming the tensor; the cache retrains"),
        id="model-inf"),
    pytest.param(lambda path, state: path.write_bytes(b"\xff" * 8 + b"{}"), "safetensors", marks=fault(
        "a file that is not safetensors (bad header)", "CacheError; the cache retrains"),
        id="model-bad-header"),
    pytest.param(lambda path, state: path.write_bytes(b""), "safetensors", marks=fault(
        "an empty model file", "CacheError; the cache retrains"), id="model-empty"),
]


@pytest.mark.parametrize("write, needle", MODEL_CASES)
def test_a_model_file_that_lies_is_refused(write, needle, tmp_path: Path):
    from pareto_unlearn.exceptions import CacheError
    from pareto_unlearn.task import load_state_checked

    path = tmp_path / "w.safetensors"
    write(path, _state(_tiny_model()))
    model = _tiny_model()
    before = _state(model)
    with pytest.raises(CacheError, match=needle) as info:
        load_state_checked(model, path)
    assert str(path) in str(info.value)
    assert all((before[k] == v).all() for k, v in model.state_dict().items())  # nothing half-loaded


@pytest.mark.parametrize("write, needle", MODEL_CASES)
def test_the_model_cache_never_serves_a_lying_entry(write, needle, tmp_path: Path):
    """The entry is rewritten with its record's hash updated, as a careless tool would: the cache must
    still refuse it and retrain."""
    import torch

    from pareto_unlearn._io import sha256_file
    from pareto_unlearn.task import ModelCache

    cache, trained = ModelCache(tmp_path), []

    def train(model):
        trained.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.5)
        return {"n": len(trained)}

    first, _ = cache.get_or_train(_tiny_model(), {"what": "tiny"}, train)
    good = _state(first)
    weights, record_path = cache.paths(cache.key({"what": "tiny"}))
    write(weights, _state(_tiny_model()))
    record = json.loads(record_path.read_text())
    record["sha256"] = sha256_file(weights)
    record_path.write_text(json.dumps(record))
    again, facts = cache.get_or_train(_tiny_model(), {"what": "tiny"}, train)
    assert len(trained) == 2 and facts == {"n": 2}  # retrained, not served
    assert all(torch.equal(good[k], v) for k, v in again.state_dict().items())
    _, facts = cache.get_or_train(_tiny_model(), {"what": "tiny"}, train)
    assert len(trained) == 2 and facts == {"n": 2}  # and the rebuilt entry is a hit


def test_two_processes_wanting_one_cache_entry_train_it_once(tmp_path: Path):
    """The second waits on the entry's lock while the first trains, then reads the entry."""
    import threading
    import time

    from pareto_unlearn.task import ModelCache

    trained, results = [], {}
    started = threading.Event()

    def slow_train(model):
        started.set()
        time.sleep(0.5)
        trained.append(1)
        return {"by": len(trained)}

    def worker(name):  # separate ModelCache objects: separate lock files handles, as in two processes
        results[name] = ModelCache(tmp_path).get_or_train(_tiny_model(), {"what": "shared"}, slow_train)[1]

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    first.join(60)
    second.join(60)
    assert trained == [1] and results["first"] == results["second"] == {"by": 1}


test_two_processes_wanting_one_cache_entry_train_it_once = fault(
    "two processes writing one model-cache entry", "the second waits, then reads it (trained once)")(
    test_two_processes_wanting_one_cache_entry_train_it_once)


# ------------------------------------------------------------------ CIFAR batches that lie


def _cifar_batch(edit: Callable[[dict], dict], every: bool = False) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        import pickle  # writing a test file; the package never unpickles what it has not md5-checked

        names = [f"data_batch_{i}" for i in range(1, 6)] if every else ["data_batch_2"]
        for name in names:
            entry = pickle.loads((folder / name).read_bytes())  # noqa: S301  # our own synthetic file
            (folder / name).write_bytes(pickle.dumps(edit(entry), protocol=2))
    return apply


CIFAR_CASES = [
    pytest.param(_cifar_batch(lambda e: {**e, "data": e["data"][:, :3000]}), "3000", marks=fault(
        "a CIFAR batch of 3000 values per image (not 3×32×32)", "exit 2 / DataError naming the folder"),
        id="cifar-batch-columns"),
    pytest.param(_cifar_batch(lambda e: {**e, "data": e["data"][:, :3000]}, every=True),
                 "cifar-10-batches-py",
                 marks=fault("every CIFAR batch of the wrong image size", "exit 2 / DataError"),
                 id="cifar-all-batches-columns"),
    pytest.param(_cifar_batch(lambda e: {**e, "labels": e["labels"][:-1]}), "labels", marks=fault(
        "a CIFAR batch with one label fewer than images", "exit 2 / DataError: images vs labels"),
        id="cifar-batch-labels"),
]


@pytest.mark.parametrize("edit, needle", CIFAR_CASES)
def test_a_cifar_batch_of_the_wrong_shape_is_refused(edit, needle, tmp_path: Path):
    from pareto_unlearn.exceptions import DataError
    from pareto_unlearn.task._synthetic import write_synthetic_cifar10
    from pareto_unlearn.task._torchvision import load_torchvision

    root = write_synthetic_cifar10(tmp_path, n_train=20, n_test=10)
    edit(root / "cifar-10-batches-py")
    with pytest.raises(DataError, match=needle) as info:
        load_torchvision("cifar10", data_root=root, verify_md5=False)
    assert "\n" not in str(info.value) and "cifar-10-batches-py" in str(info.value)


# ------------------------------------------------------------------ a full disk


def _enospc_when_writing(monkeypatch, name_part: str) -> None:
    """Make ``fsync`` of any temporary file whose name holds ``name_part`` fail as on a full disk."""
    import errno
    import os

    fsync = os.fsync

    def full(fd: int) -> None:
        if name_part in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", full)


@fault("ENOSPC (disk full) while explore writes points.csv", "exit 2, one line; no points.csv, no summary, "
       "no temporary file left")
def test_a_full_disk_while_writing_the_run(tmp_path: Path, cache_dir: Path, capsys, monkeypatch):
    (tmp_path / "tiny.toml").write_text(TINY)
    out = tmp_path / "run"
    _enospc_when_writing(monkeypatch, "points.csv")
    code = main(["explore", "--solvers", "ls", "--config", str(tmp_path / "tiny.toml"), "--out", str(out),
                 "--cache-dir", str(cache_dir), "--no-progress"])
    refused(capsys, code, "points.csv", "No space left on device")
    assert not (out / "points.csv").exists() and not (out / "summary.json").exists()
    assert not list(out.rglob("*.tmp"))


@fault("ENOSPC (disk full) while the model cache stores weights", "exit 2, one line; no half-written entry")
def test_a_full_disk_while_caching_a_model(tmp_path: Path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    _enospc_when_writing(monkeypatch, ".safetensors")
    code = main(["explore", "--solvers", "ls", "--quick", "--out", str(tmp_path / "run"), "--cache-dir",
                 str(cache), "--no-progress"])
    refused(capsys, code, "No space left on device")
    assert not list(cache.glob("*.safetensors")) and not list(cache.rglob("*.tmp"))


@fault("ENOSPC (disk full) while report writes report.md", "exit 2, one line; the run directory unchanged")
def test_a_full_disk_while_writing_the_report(run_dir: Path, tmp_path: Path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    _enospc_when_writing(monkeypatch, "report")
    refused(capsys, main(["report", str(run)]), "report", "No space left on device")
    assert not (run / "report.md").exists() and not (run / "report.html").exists()
    assert not list(run.rglob("*.tmp"))


# ------------------------------------------------------------------ the table of every case


@pytest.mark.slow
def test_docs_reliability_md_is_current_and_lists_at_least_60_cases():
    """docs/reliability.md is what scripts/reliability_table.py collects from the suite now."""
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "reliability_table.py"), "--check"],
                          capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    count = int(re.search(r"(\d+) distinct cases", done.stdout).group(1))
    assert count >= 60, done.stdout


# ------------------------------------------------------------------ an exported model that lies


def _export(folder: Path, *, record_edit: Callable[[dict], object] | None = None,
            weights_edit: Callable[[dict], dict] | None = None) -> Path:
    """An export as select_and_export writes it (weights + JSON record), edited by hand."""
    from safetensors.torch import save_file

    from pareto_unlearn._io import sha256_file
    from pareto_unlearn.task import build_model

    model = build_model("mlp", n_classes=10, input_shape=(1, 8, 8), seed=0)
    path = folder / "chosen.safetensors"
    state = _state(model)
    save_file(weights_edit(state) if weights_edit else state, str(path))
    record: object = {"architecture": {"model": "mlp", "n_classes": 10, "input_shape": [1, 8, 8], "seed": 0},
                      "files": {"model_sha256": sha256_file(path)}}
    if record_edit is not None:
        record = record_edit(record) or record
    (folder / "chosen.json").write_text(json.dumps(record))
    return path


EXPORT_CASES = [
    pytest.param({"weights_edit": _poison(float("nan"))}, "CacheError", "NaN or inf", marks=fault(
        "an exported model holding NaN (its record's hash updated)", "CacheError naming the tensor"),
        id="export-nan"),
    pytest.param({"record_edit": lambda r: [r]}, "RunDirError", "not the record", marks=fault(
        "an export whose JSON record is a list", "RunDirError naming the file"), id="export-record-list"),
    pytest.param({"record_edit": lambda r: r["architecture"].pop("n_classes") and None}, "RunDirError",
                 "n_classes", marks=fault("an export whose architecture lacks n_classes",
                                          "RunDirError naming the file and the key"),
                 id="export-architecture"),
]


@pytest.mark.parametrize("edits, error, needle", EXPORT_CASES)
def test_an_exported_model_that_lies_is_refused(edits, error, needle, tmp_path: Path):
    from pareto_unlearn import exceptions
    from pareto_unlearn.selection_export import load_exported

    path = _export(tmp_path, **edits)
    with pytest.raises(getattr(exceptions, error), match=needle):
        load_exported(path)
