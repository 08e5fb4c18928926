"""Checkpoints and --resume: a run killed after any generation or unit continues to the identical front;
Ctrl-C leaves a valid, incomplete run directory; damaged or foreign checkpoints are refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pareto_unlearn._io import atomic_save_npz, sha256_file
from pareto_unlearn.checkpoint import StateCheckpoint, UnitStore, restore_rng_states, rng_states
from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import CacheError, RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.solvers import EvolutionaryLSWarm, EvolutionaryLSWeights, EvolutionarySolver
from pareto_unlearn.solvers.evolutionary import _solver as _nsga2
from pareto_unlearn.spaces import LastLayerSpace, LoRASpace

REPO = Path(__file__).resolve().parents[1]
VALIDATOR = REPO.parent / "shared" / "tools" / "validate_run_dir.py"


def EvolutionaryLastLayer(**kwargs):  # noqa: N802  # stands in for a solver class in the tables below
    return EvolutionarySolver(space=LastLayerSpace(), **kwargs)


def EvolutionaryLoRA(**kwargs):  # noqa: N802
    return EvolutionarySolver(space=LoRASpace(), **kwargs)


SPACES = [
    (EvolutionaryLastLayer, {"pop_size": 8, "n_gen": 5}),
    (EvolutionaryLoRA, {"pop_size": 8, "n_gen": 4}),
    (EvolutionaryLSWeights, {"pop_size": 4, "n_gen": 4, "max_epochs": 1}),
    (EvolutionaryLSWarm, {"pop_size": 4, "n_gen": 4, "max_epochs": 1}),
    (EvolutionaryLSWarm, {"pop_size": 4, "n_gen": 4, "max_epochs": 1, "algorithm": "sms-emoa"}),
    (EvolutionaryLSWarm, {"pop_size": 4, "n_gen": 4, "max_epochs": 1, "algorithm": "moead"}),
    (EvolutionaryLastLayer, {"pop_size": 8, "n_gen": 5, "algorithm": "nsga3"}),
    (EvolutionaryLastLayer, {"pop_size": 8, "n_gen": 5, "algorithm": "nsde"}),
]


class _Stop(Exception):
    """Stands in for the process dying right after a checkpoint was written."""


def _stop_after(monkeypatch, generation: int) -> None:
    save = _nsga2.EvolutionarySolver._save_checkpoint

    def save_then_stop(self, store, algorithm, gen, meter, log):
        save(self, store, algorithm, gen, meter, log)
        if gen == generation:
            raise _Stop

    monkeypatch.setattr(_nsga2.EvolutionarySolver, "_save_checkpoint", save_then_stop)


def _assert_same_points(a: Front, b: Front) -> None:
    np.testing.assert_array_equal(a.F, b.F)
    for key in a.metrics:
        np.testing.assert_array_equal(a.metrics[key], b.metrics[key])
    np.testing.assert_array_equal(a.cost["forward_passes"], b.cost["forward_passes"])
    assert [p["generation"] for p in a.provenance] == [p["generation"] for p in b.provenance]


SPACE_IDS = [c.__name__ + ("-" + s["algorithm"] if "algorithm" in s else "") for c, s in SPACES]


@pytest.mark.parametrize("cls, settings", SPACES, ids=SPACE_IDS)
def test_resumed_search_gives_the_uninterrupted_front(cls, settings, digits_task, digits_objectives, tmp_path,
                                                      monkeypatch):
    full = cls(**settings, seed=3, progress=False).run(digits_task, digits_objectives)
    with monkeypatch.context() as patch:
        _stop_after(patch, 2)
        with pytest.raises(_Stop):
            cls(**settings, seed=3, progress=False).run(digits_task, digits_objectives, checkpoint=tmp_path)
    solver = cls(**settings, seed=3, progress=False)
    resumed = solver.run(digits_task, digits_objectives, checkpoint=tmp_path)
    _assert_same_points(full, resumed)
    assert solver.resumed_from_ == 2
    # only generations 3..n were evaluated: pop_size offspring each
    assert solver.n_evaluated_ == (settings["n_gen"] - 2) * settings["pop_size"]
    whole = [row["generation"] for row in resumed.anytime if not row.get("partial")]
    assert whole == list(range(1, settings["n_gen"] + 1))


def test_nsga3_resumes_with_its_normalisation(digits_task, digits_objectives, tmp_path, monkeypatch):
    """NSGA-III's survival starts from the ideal, worst and extreme points seen so far (offspring that
    did not survive included): a resumed run gets them back as they were when the checkpoint was saved."""
    norm_keys = ("ideal_point", "worst_point", "nadir_point", "extreme_points")
    saved = {}
    save = _nsga2.EvolutionarySolver._save_checkpoint

    def save_then_stop(self, store, algorithm, gen, meter, log):
        save(self, store, algorithm, gen, meter, log)
        if gen == 2:
            saved.update({k: np.copy(getattr(algorithm.survival.norm, k)) for k in norm_keys})
            raise _Stop

    settings = {"pop_size": 8, "n_gen": 3, "algorithm": "nsga3", "seed": 3, "progress": False}
    with monkeypatch.context() as patch:
        patch.setattr(_nsga2.EvolutionarySolver, "_save_checkpoint", save_then_stop)
        with pytest.raises(_Stop):
            EvolutionarySolver(space=LastLayerSpace(), **settings).run(
                digits_task, digits_objectives, checkpoint=tmp_path)
    restored = {}
    resume = _nsga2.EvolutionarySolver._resume

    def resume_and_record(self, store, algorithm, meter, log):
        done = resume(self, store, algorithm, meter, log)
        restored.update({k: getattr(algorithm.survival.norm, k) for k in norm_keys})
        return done

    monkeypatch.setattr(_nsga2.EvolutionarySolver, "_resume", resume_and_record)
    EvolutionarySolver(space=LastLayerSpace(), **settings).run(
        digits_task, digits_objectives, checkpoint=tmp_path)
    assert np.isfinite(saved["ideal_point"]).all()
    for key in norm_keys:
        np.testing.assert_array_equal(restored[key], saved[key])


def test_rng_states_round_trip():
    import random

    import torch

    json_part, arrays = rng_states()
    expected = (np.random.rand(), random.random(), torch.rand(1).item())
    restore_rng_states(json.loads(json.dumps(json_part)), arrays)
    assert (np.random.rand(), random.random(), torch.rand(1).item()) == expected


def _seed_globals(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _global_draws() -> tuple[float, float, float]:
    import random

    import torch

    return torch.rand(1).item(), float(np.random.rand()), random.random()


def test_preserved_rng_states_gives_the_caller_its_states_back_even_on_error():
    from pareto_unlearn.checkpoint import preserved_rng_states

    _seed_globals(11)
    expected = _global_draws()
    _seed_globals(11)
    with pytest.raises(_Stop), preserved_rng_states():
        _seed_globals(5)
        _global_draws()
        raise _Stop
    assert _global_draws() == expected


# LastLayer (no randomness in an evaluation) and LSWeights (a seeded fine-tune and its metrics per individual)
@pytest.mark.parametrize("cls, settings", [SPACES[0], SPACES[2]], ids=[SPACE_IDS[0], SPACE_IDS[2]])
def test_a_run_leaves_the_callers_global_rng_states_alone(cls, settings, digits_task, digits_objectives,
                                                         tmp_path, monkeypatch):
    """The contract: when ``run`` returns or raises, fresh or resumed, the caller's next draws from
    ``torch.rand``, ``np.random.rand`` and ``random.random`` are the ones it would make with no run at all.
    The checkpoint's saved RNG states are the run's own business (a resume used to leave them behind)."""
    _seed_globals(11)
    expected = _global_draws()
    _seed_globals(11)
    full = cls(**settings, seed=3, progress=False).run(digits_task, digits_objectives)
    assert _global_draws() == expected, "a fresh run moved the caller's global RNG states"
    _seed_globals(5)  # the interrupted run saves states that descend from another caller's states
    expected_5 = _global_draws()
    _seed_globals(5)
    with monkeypatch.context() as patch:
        _stop_after(patch, 2)
        with pytest.raises(_Stop):
            cls(**settings, seed=3, progress=False).run(digits_task, digits_objectives, checkpoint=tmp_path)
    assert _global_draws() == expected_5, "a run that raised moved the caller's global RNG states"
    _seed_globals(11)
    resumed = cls(**settings, seed=3, progress=False).run(digits_task, digits_objectives, checkpoint=tmp_path)
    assert _global_draws() == expected, "a resumed run left the checkpoint's RNG states behind"
    _assert_same_points(full, resumed)


def _stopped_checkpoint(digits_task, digits_objectives, tmp_path, monkeypatch) -> Path:
    with monkeypatch.context() as patch:
        _stop_after(patch, 2)
        with pytest.raises(_Stop):
            EvolutionarySolver(space=LastLayerSpace(), pop_size=6, n_gen=4, progress=False).run(
                digits_task, digits_objectives,
                                                                   checkpoint=tmp_path)
    return tmp_path


def _resume_last_layer(task, objectives, ckpt: Path) -> Front:
    return EvolutionarySolver(space=LastLayerSpace(), pop_size=6, n_gen=4, progress=False).run(
        task, objectives, checkpoint=ckpt)


def test_tampered_checkpoint_is_refused(digits_task, digits_objectives, tmp_path, monkeypatch):
    ckpt = _stopped_checkpoint(digits_task, digits_objectives, tmp_path, monkeypatch)
    arrays = next(ckpt.glob("arrays-*.npz"))
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="SHA-256 differs") as info:
        _resume_last_layer(digits_task, digits_objectives, ckpt)
    assert "--force" in str(info.value)


def test_truncated_checkpoint_is_refused(digits_task, digits_objectives, tmp_path, monkeypatch):
    ckpt = _stopped_checkpoint(digits_task, digits_objectives, tmp_path, monkeypatch)
    state = ckpt / "state.json"
    state.write_text(state.read_text()[:40])
    with pytest.raises(CacheError, match="truncated"):
        _resume_last_layer(digits_task, digits_objectives, ckpt)


def test_checkpoint_whose_shapes_do_not_fit_is_refused(digits_task, digits_objectives, tmp_path, monkeypatch):
    ckpt = _stopped_checkpoint(digits_task, digits_objectives, tmp_path, monkeypatch)
    meta = json.loads((ckpt / "state.json").read_text())
    path = ckpt / meta["arrays"]
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["pop:X"] = arrays["pop:X"][:, :-1]  # one genome entry short
    atomic_save_npz(path, **arrays)
    meta["sha256"] = sha256_file(path)  # a consistent file, from another space
    (ckpt / "state.json").write_text(json.dumps(meta))
    with pytest.raises(CacheError, match=r"saved population has shape \(6, \d+\)") as info:
        _resume_last_layer(digits_task, digits_objectives, ckpt)
    assert "--force" in str(info.value)


def test_checkpoint_of_other_settings_is_refused(digits_task, digits_objectives, tmp_path, monkeypatch):
    ckpt = _stopped_checkpoint(digits_task, digits_objectives, tmp_path, monkeypatch)
    with pytest.raises(RunDirError, match="other settings"):
        EvolutionarySolver(space=LastLayerSpace(), pop_size=6, n_gen=4, seed=1, progress=False).run(
            digits_task, digits_objectives,
                                                                        checkpoint=ckpt)


def test_unit_store_refuses_other_settings_and_tampered_units(digits_task, digits_objectives, tmp_path):
    front = EvolutionarySolver(space=LastLayerSpace(), pop_size=4, n_gen=1, progress=False).run(
        digits_task, digits_objectives)
    store = UnitStore(tmp_path, {"seed": 0})
    store.put("nsga2-last-layer", front)
    np.testing.assert_array_equal(store.get("nsga2-last-layer").F, front.F)
    with pytest.raises(RunDirError, match="other settings"):
        UnitStore(tmp_path, {"seed": 1})
    npz = tmp_path / "nsga2-last-layer" / "front.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(CacheError, match="SHA-256"):
        UnitStore(tmp_path, {"seed": 0}).get("nsga2-last-layer")
    assert StateCheckpoint(tmp_path / "none", {}).load() is None


# -- the command line ----------------------------------------------------------------------------------
def _config(tmp_path: Path, n_gen: int) -> Path:
    path = tmp_path / "search.toml"
    path.write_text(
        'solvers = ["nsga2-ls-weights"]\n'
        f'[explore.nsga2-ls-weights]\npop_size = 4\nn_gen = {n_gen}\nmax_epochs = 1\n'
    )
    return path


def _args(config: Path, out: Path, cache_dir: Path) -> list[str]:
    return ["explore", "--config", str(config), "--out", str(out), "--cache-dir", str(cache_dir),
            "--threads", "1", "--no-progress"]


def _points(out: Path) -> pd.DataFrame:
    frame = pd.read_csv(out / "points.csv")
    return frame.drop(columns=["wall_s"])


def test_ctrl_c_leaves_a_valid_incomplete_run_that_resumes(tmp_path, cache_dir, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["explore", "--solvers", "nsga2-last-layer,nsga2-lora", "--quick", "--out", str(out),
            "--cache-dir", str(cache_dir), "--no-progress"]

    def interrupted(self, X, meter):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        evaluate = EvolutionarySolver._evaluate_population

        def interrupted_in_lora(self, X, meter):
            return interrupted(self, X, meter) if self.space_name == "lora" else evaluate(self, X, meter)

        patch.setattr(EvolutionarySolver, "_evaluate_population", interrupted_in_lora)
        assert main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "--resume" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and list(summary["solvers"]) == ["nsga2-last-layer"]
    if VALIDATOR.is_file():
        check = subprocess.run([sys.executable, str(VALIDATOR), str(out)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert main([*args, "--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and list(summary["solvers"]) == ["nsga2-last-layer", "nsga2-lora"]


def test_resume_and_force_flags_are_checked(tmp_path, capsys):
    empty = tmp_path / "empty"
    assert main(["explore", "--quick", "--out", str(empty), "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert main(["explore", "--quick", "--out", str(empty), "--resume", "--force"]) == 2
    assert "not both" in capsys.readouterr().err


def test_sweep_resumes_from_its_finished_points(tmp_path, cache_dir):
    config = tmp_path / "sweep.toml"
    config.write_text('solvers = ["ls"]\n[explore.ls]\nweights = [0.2, 0.5, 0.8]\nepochs = 1\n')
    out = tmp_path / "run"
    args = ["explore", "--config", str(config), "--out", str(out), "--cache-dir", str(cache_dir),
            "--no-progress"]
    assert main(args) == 0
    before = _points(out)
    units = out / "checkpoints" / "units"
    first, *_, last = sorted(units.glob("ls.*"))  # one unit per sweep point, named by its configuration
    kept = (first / "front.json").stat().st_mtime_ns
    for path in (last, out / "summary.json", out / "points.csv"):  # killed before its last point
        path.unlink() if path.is_file() else shutil.rmtree(path)
    assert main([*args, "--resume"]) == 0
    pd.testing.assert_frame_equal(_points(out), before)
    assert (first / "front.json").stat().st_mtime_ns == kept  # finished points are not rerun
    assert (last / "front.json").is_file()


def _table_args(tmp_path: Path, cache_dir: Path, lrs: str) -> tuple[list[str], Path]:
    """A table on digits random 10 % with one-epoch grids of the learning rates ``lrs``; args and --out."""
    config = tmp_path / "table.toml"
    lines = ['forget = "random:0.1"']
    for method in ("FT", "GA", "RL", "SalUn", "RAUL-LS", "RAUL-UPGrad"):
        lines += [f"[methods.{method}]", "epochs = 1", f"lr = [{lrs}]"]
    lines += ["[methods.l1-sparse]", "epochs = 1", "lr = [0.05]", "alpha = [5e-4]"]
    lines += ["[methods.IU]", "alpha = [100]"]
    config.write_text("\n".join(lines) + "\n")
    out = tmp_path / "table"
    return ["table", "--config", str(config), "--out", str(out), "--cache-dir", str(cache_dir),
            "--no-progress"], out


def test_table_resumes_from_its_finished_grid_points(tmp_path, cache_dir):
    args, out = _table_args(tmp_path, cache_dir, "0.05, 0.01")
    assert main(args) == 0
    before = pd.read_csv(out / "table.csv").drop(columns=["wall_s", "wall_rel_retrain"])
    units = out / "checkpoints" / "units"
    assert len([p for p in units.iterdir() if p.is_dir()]) == 18  # 8 rows × 2 lr + ℓ1-sparse, IU × 1
    shutil.rmtree(sorted(units.glob("seed0.HeldDist-RAUL-UPGrad.*"))[-1])
    (out / "results.json").unlink()
    assert main([*args, "--resume"]) == 0
    after = pd.read_csv(out / "table.csv").drop(columns=["wall_s", "wall_rel_retrain"])
    pd.testing.assert_frame_equal(after, before)


def test_table_resumed_with_a_longer_grid_computes_only_the_new_points(tmp_path, cache_dir):
    args, out = _table_args(tmp_path, cache_dir, "0.05")
    assert main(args) == 0
    units = out / "checkpoints" / "units"
    stamps = {p.name: (p / "front.json").stat().st_mtime_ns for p in units.iterdir() if p.is_dir()}
    assert len(stamps) == 10  # 8 rows × 1 lr + ℓ1-sparse, IU
    longer, _ = _table_args(tmp_path, cache_dir, "0.05, 0.01")  # the same --out, each grid one lr longer
    assert main([*longer, "--resume"]) == 0
    after = {p.name: (p / "front.json").stat().st_mtime_ns for p in units.iterdir() if p.is_dir()}
    assert len(after) == 18 and {k: after[k] for k in stamps} == stamps  # 8 new points, none rerun
    rows = json.loads((out / "results.json").read_text())["rows"]
    ft = next(r for r in rows if r["method"] == "FT")
    assert [g["lr"] for g in ft["hyperparameters"]["grid"]] == [0.05, 0.01]


def test_table_ctrl_c_keeps_finished_grid_points(tmp_path, cache_dir, monkeypatch, capsys):
    from pareto_unlearn.experiments import _table

    args, out = _table_args(tmp_path, cache_dir, "0.05")
    unit, calls = _table._table_unit, []

    def interrupted_after_three(*a):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return unit(*a)

    with monkeypatch.context() as patch:
        patch.setattr(_table, "_table_unit", interrupted_after_three)
        assert main(args) == 130
    assert "--resume" in capsys.readouterr().err
    partial = json.loads((out / "results.json").read_text())
    assert partial["complete"] is False and partial["finished_units"] == 3 and partial["units"] == 10
    assert main([*args, "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["complete"] is True


class _InterruptedTeardown:
    """Stands in for a progress bar whose ``__del__`` is running when Ctrl-C (or SIGTERM) lands."""

    def __init__(self, kind: type[KeyboardInterrupt]) -> None:
        self.kind = kind

    def __del__(self) -> None:
        raise self.kind


@pytest.mark.parametrize("kind, code", [
    pytest.param(KeyboardInterrupt, 130, marks=pytest.mark.fault(
        what="Ctrl-C that lands in a destructor (tqdm.__del__)",
        answer="exit 130, one line; not swallowed, the run does not go on"), id="sigint-in-destructor"),
    pytest.param("Terminated", 143, marks=pytest.mark.fault(
        what="SIGTERM that lands in a destructor", answer="exit 143, one line"), id="sigterm-in-destructor"),
])
def test_an_interrupt_inside_a_destructor_is_not_swallowed(kind, code, tmp_path, cache_dir, monkeypatch,
                                                            capsys):
    from pareto_unlearn._signals import Terminated

    kind = Terminated if kind == "Terminated" else kind
    out = tmp_path / "run"
    args = ["explore", "--solvers", "nsga2-last-layer", "--quick", "--out", str(out), "--cache-dir",
            str(cache_dir), "--no-progress"]
    evaluate, calls = EvolutionarySolver._evaluate_population, []

    def torn_down_once(self, X, meter):
        if len(calls) == 1:
            bar = _InterruptedTeardown(kind)
            del bar  # the interrupt is raised in __del__, where Python can only report it
        calls.append(1)
        return evaluate(self, X, meter)

    monkeypatch.setattr(EvolutionarySolver, "_evaluate_population", torn_down_once)
    assert main(args) == code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "interrupted" in err[0] and "--resume" in err[0], err
    summary = out / "summary.json"
    assert not summary.exists() or not json.loads(summary.read_text())["complete"]


# ------------------------------------------------------------------ real signals, real processes, --resume

_SIGNAL_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has installed its own SIGTERM handler (Linux: the SigCgt mask of /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the signal mask from /proc")
@pytest.mark.parametrize("sig", [
    pytest.param(signal.SIGINT, marks=pytest.mark.fault(
        what="Ctrl-C while the command is still importing torch (the first seconds)",
        answer="exit 130, one line, no traceback, nothing written"), id="sigint"),
    pytest.param(signal.SIGTERM, marks=pytest.mark.fault(
        what="SIGTERM while the command is still importing torch",
        answer="exit 143, one line, nothing written"), id="sigterm"),
])
def test_a_signal_while_the_command_starts_is_one_line(sig, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pareto_unlearn", "explore", "--quick", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _catches_sigterm(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(sig)  # the handlers are in, torch and the commands are still being imported
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == _SIGNAL_CODES[sig], (proc.returncode, err)
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err, err
    assert not out.exists()


@pytest.mark.fault(what="Ctrl-C after the command finished, while the interpreter shuts down",
                   answer="exit 130, one line, no 'Exception ignored' traceback")
def test_a_signal_after_the_command_finished_is_one_line(tmp_path):
    script = ("import os, signal, sys, time\nfrom pareto_unlearn.__main__ import main\n"
              f"main(['report', {str(tmp_path / 'missing')!r}])\n"
              "os.kill(os.getpid(), signal.SIGINT)\ntime.sleep(30)\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 130, done.stderr
    assert lines[-1] == "pareto-unlearn: interrupted while exiting; the command had finished", done.stderr
    assert "Traceback" not in done.stderr


def _generations(out: Path, name: str, n_gen: int) -> int:
    """How far an evolutionary search in ``out`` has got: its checkpoint's generation (n_gen when done)."""
    if (out / "checkpoints" / "units" / name / "front.json").is_file():
        return n_gen
    try:
        return int(json.loads((out / "checkpoints" / name / "state.json").read_text())["state"]["generation"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def _units(out: Path, name: str) -> int:
    """How many points of a gradient sweep in ``out`` have finished."""
    return len(list((out / "checkpoints" / "units").glob(f"{name}.*/front.json")))


def _cut_and_resume(tmp_path: Path, cache_dir: Path, config: Path, progress, moments, during=None) -> Path:
    """Run ``explore`` in a subprocess and stop it with each ``(signal, progress reached)`` of ``moments`` in
    turn, continuing with ``--resume`` each time; then resume it to the end. ``during(out)`` runs once while
    the first process is writing. Returns the run directory."""
    out = tmp_path / "cut"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PARETO_UNLEARN_CACHE": str(cache_dir)}
    for i, (sig, reached) in enumerate(moments):
        args = [*_args(config, out, cache_dir), *(["--resume"] if i else [])]
        proc = subprocess.Popen([sys.executable, "-m", "pareto_unlearn", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            now = progress(out)
            if during is not None and now >= 1:  # the first process is writing: try a second one
                during(out)
                during = None
            elif now >= reached:
                break
            time.sleep(0.01)
        assert during is None, "the first process was never seen writing"
        assert proc.poll() is None, f"the run ended before it was stopped at {reached}: {proc.stderr.read()}"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == _SIGNAL_CODES[sig], (sig, proc.returncode, err)
        lines = [line for line in err.splitlines() if line.strip()]
        if sig == signal.SIGKILL:
            assert not lines, err
            assert main(_args(config, out, cache_dir)) == 2  # a killed run is not started over by accident
        else:  # one line that says how to go on, nothing else (no traceback, no "Exception ignored")
            assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0], err
    assert main([*_args(config, out, cache_dir), "--resume"]) == 0
    return out


@pytest.mark.slow
@pytest.mark.fault(what="SIGINT, kill -9 and SIGTERM at three generations of an NSGA-II search "
                        "(nsga2-ls-weights), each continued with --resume",
                   answer="exit 130 / 143 with one line (nothing after kill -9); the resumed front is "
                          "identical to an uninterrupted run's")
@pytest.mark.fault(what="SIGTERM, kill -9 at two points, then SIGINT in a gradient (ls) sweep, each "
                        "continued with --resume",
                   answer="exit 143 / 130 with one line; the resumed front is identical to an uninterrupted "
                          "run's")
@pytest.mark.fault(what="a second explore --force (and a report) on the --out a live run is writing",
                   answer="exit 2, one line: being written by another run; the first run's results intact, "
                          "validate_run_dir passes")
def test_a_run_cut_by_every_signal_resumes_to_the_identical_front(tmp_path, cache_dir, capsys):
    """One run of an evolutionary and a gradient solver (the search runs first, then the sweep's points),
    stopped seven times by real signals in a subprocess, gives the uninterrupted run's front."""
    n_gen = 6
    config = tmp_path / "cut.toml"
    config.write_text(f'solvers = ["nsga2-ls-weights", "ls"]\n[explore.nsga2-ls-weights]\npop_size = 4\n'
                      f'n_gen = {n_gen}\nmax_epochs = 1\n[explore.ls]\nweights = [0.1, 0.3, 0.5, 0.7, 0.9]\n'
                      'epochs = 1\n')
    refusals = []

    def second_run(out: Path) -> None:  # a second explore on the --out a live run is writing
        refusals.append(main([*_args(config, out, cache_dir), "--force"]))
        refusals.append(main(["report", str(out)]))
        refusals.append(capsys.readouterr().err)

    def progress(out: Path) -> int:  # generations of the search, then points of the sweep
        return _generations(out, "nsga2-ls-weights", n_gen) + _units(out, "ls")

    moments = [(signal.SIGINT, 2), (signal.SIGKILL, 3), (signal.SIGTERM, 4),  # in the search
               (signal.SIGTERM, n_gen + 1), (signal.SIGKILL, n_gen + 2), (signal.SIGKILL, n_gen + 3),
               (signal.SIGINT, n_gen + 4)]  # in the sweep
    cut = _cut_and_resume(tmp_path, cache_dir, config, progress, moments, during=second_run)
    assert refusals[:2] == [2, 2], refusals
    assert refusals[2].count("being written by another run") == 2 and len(refusals[2].splitlines()) == 2
    reference = tmp_path / "reference"
    assert main(_args(config, reference, cache_dir)) == 0
    pd.testing.assert_frame_equal(_points(cut), _points(reference))
    if VALIDATOR.is_file():
        check = subprocess.run([sys.executable, str(VALIDATOR), str(cut)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
