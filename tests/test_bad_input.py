"""The catalogue of bad input: each case is recognised explicitly, answered by the CLI with one line that
names the bad value (exit 2) and by the API with a typed exception; nothing is half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import CacheError, ConfigError, DataError, RunDirError
from pareto_unlearn.task import TrainRecipe, UnlearningTask, build_model

TINY_EXPLORE = """
[explore.jd]
lrs = [0.1]
epochs = 1

[explore.ls]
weights = [0.5]
lr = 0.1
epochs = 1
"""


def _refused(capsys, code: int, *needles: str) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("bad-input")
    (root / "tiny.toml").write_text(TINY_EXPLORE)
    out = root / "run"
    code = main(
        [
            "explore",
            "--forget",
            "random:0.5",
            "--solvers",
            "jd,ls",
            "--config",
            str(root / "tiny.toml"),
            "--out",
            str(out),
            "--cache-dir",
            str(cache_dir),
            "--no-progress",
        ]
    )
    assert code == 0
    return out


EXPLORE_CASES = [
    (["--solvers", "bogus"], ("bogus", "nsga2-last-layer")),
    (["--solvers", "jd-bogus"], ("jd-bogus",)),
    (["--solvers", "nsga2-everything"], ("nsga2-everything",)),
    (["--reference", "gaussian"], ("gaussian", "uniform")),
    (["--kl-direction", "sideways"], ("sideways", "model-ref")),
    (["--objectives", "forget_kl,accuracy"], ("accuracy", "retain_ce")),
    (["--device", "tpu"], ("tpu", "cpu")),
    (["--batch-size", "0"], ("batch_size", "0")),
    (["--seeds", "a,b"], ("seeds",)),
    (["--task", "cifar10", "--data-root", "/nonexistent/cifar"], ("/nonexistent/cifar", "--download")),
    (["--task", "cifar10"], ("--data-root",)),
    (["--forget", "class:-1"], ("class",)),
]


@pytest.mark.parametrize("flags, needles", EXPLORE_CASES, ids=[" ".join(c[0]) for c in EXPLORE_CASES])
def test_explore_refuses(tmp_path: Path, cache_dir: Path, capsys, flags: list[str], needles: tuple[str, ...]):
    out = tmp_path / "out"
    code = main(
        [
            "explore",
            "--forget",
            "random:0.5",
            "--out",
            str(out),
            "--cache-dir",
            str(cache_dir),
            "--no-progress",
            *flags,
        ]
    )
    _refused(capsys, code, *needles)
    assert not (out / "summary.json").exists() and not (out / "points.csv").exists()


def test_invalid_toml(tmp_path: Path, capsys):
    config = tmp_path / "broken.toml"
    config.write_text("task = [unclosed\n")
    _refused(
        capsys,
        main(["explore", "--config", str(config), "--out", str(tmp_path / "o")]),
        "broken.toml",
        "TOML",
    )


def test_out_under_a_file_is_not_writable(tmp_path: Path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _refused(capsys, main(["explore", "--out", str(blocker / "sub")]), str(blocker / "sub"))


def test_select_on_a_folder_that_is_not_a_run(tmp_path: Path, capsys):
    _refused(capsys, main(["select", str(tmp_path)]), str(tmp_path))


@pytest.mark.parametrize(
    "flags, needles",
    [
        (["--method", "best"], ("best", "oracle-free")),
        (["--constraint", "RA >> 99"], ("RA >> 99",)),
        (["--constraint", "RA >= 101"], ("RA >= 101",)),
        (["--export", "model.pt"], ("model.pt", ".safetensors")),
        (["--solver", "nsga2-last-layer"], ("nsga2-last-layer",)),
    ],
)
def test_select_refuses(run_dir: Path, tmp_path: Path, cache_dir: Path, capsys, flags, needles):
    code = main(["select", str(run_dir), "--cache-dir", str(cache_dir), *flags])
    _refused(capsys, code, *needles)
    assert not any(tmp_path.iterdir())


def test_select_on_a_tampered_front(run_dir: Path, tmp_path: Path, cache_dir: Path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    data = bytearray((copy / "front" / "front.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "front" / "front.npz").write_bytes(bytes(data))
    _refused(capsys, main(["select", str(copy), "--cache-dir", str(cache_dir)]), "front.npz")


def test_select_on_a_truncated_front(run_dir: Path, tmp_path: Path, cache_dir: Path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    path = copy / "front" / "front_arrays.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    _refused(capsys, main(["select", str(copy), "--cache-dir", str(cache_dir)]), "front_arrays.safetensors")


def test_compare_needs_run_dirs(tmp_path: Path, capsys):
    _refused(capsys, main(["compare", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]), "nothing")


def test_bring_your_own_with_an_empty_forget_set():
    x, y = torch.randn(40, 1, 8, 8), torch.arange(40) % 4
    model = build_model("mlp", n_classes=4, input_shape=(1, 8, 8), seed=0)
    with pytest.raises(DataError, match="forget-index array is empty"):
        UnlearningTask.from_data(model, x, y, x[:8], y[:8], np.array([], dtype=int), progress=False)


def test_bring_your_own_with_forget_indices_out_of_range():
    x, y = torch.randn(40, 1, 8, 8), torch.arange(40) % 4
    model = build_model("mlp", n_classes=4, input_shape=(1, 8, 8), seed=0)
    with pytest.raises(DataError, match="39"):
        UnlearningTask.from_data(model, x, y, x[:8], y[:8], np.array([3, 99]), progress=False)


def test_checkpoint_with_other_shapes(tmp_path: Path):
    from safetensors.torch import save_file

    from pareto_unlearn.task import load_state_checked

    small = build_model("mlp", n_classes=4, input_shape=(1, 8, 8), seed=0)
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(tmp_path / "w.safetensors"))
    with pytest.raises(CacheError, match="shape"):
        load_state_checked(
            build_model("mlp", n_classes=10, input_shape=(1, 8, 8), seed=0), tmp_path / "w.safetensors"
        )


def test_recipe_with_a_negative_lr():
    with pytest.raises(ConfigError, match="-0.1"):
        TrainRecipe(lr=-0.1)


def test_run_dir_error_is_a_value_error():
    assert issubclass(RunDirError, ValueError) and issubclass(CacheError, ValueError)


# ------------------------------------------------------------------ what a new user hit


def test_select_export_to_an_unwritable_path(run_dir: Path, cache_dir: Path, capsys):
    target = "/proc/forbidden.safetensors"
    code = main(["select", str(run_dir), "--method", "knee", "--cache-dir", str(cache_dir),
                 "--export", target])
    _refused(capsys, code, target, "cannot write")
    assert not Path(target).exists()


def test_compare_out_that_cannot_be_written(run_dir: Path, capsys):
    _refused(capsys, main(["compare", str(run_dir), "--out", "/proc/forbidden"]), "/proc/forbidden")


def test_report_where_its_file_cannot_be_written(run_dir: Path, tmp_path: Path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "report.md").mkdir()  # a folder where the report goes: the write fails, even as root
    _refused(capsys, main(["report", str(copy)]), "report.md", "cannot write")


def test_table_with_a_seed_given_twice(tmp_path: Path, capsys):
    out = tmp_path / "t"
    _refused(capsys, main(["table", "--seeds", "0,0", "--out", str(out)]), "0,0", "twice")
    assert not out.exists()


def test_compare_the_same_run_twice(run_dir: Path, tmp_path: Path, capsys):
    again = str(run_dir) + "/"  # the same folder, spelt another way
    _refused(capsys, main(["compare", str(run_dir), again, "--out", str(tmp_path / "o")]), "same run", "once")
    assert not (tmp_path / "o").exists()


def test_bench_with_zero_threads(capsys):
    _refused(capsys, main(["bench", "--threads", "0", "--quick", "--no-dask"]), "--threads 0", ">= 1")


def test_a_run_that_failed_before_its_first_unit_does_not_block_the_corrected_command(
        tmp_path: Path, cache_dir: Path, capsys):
    (tmp_path / "tiny.toml").write_text(TINY_EXPLORE)
    out = tmp_path / "D"
    common = ["--solvers", "ls", "--config", str(tmp_path / "tiny.toml"), "--cache-dir", str(cache_dir),
              "--no-progress", "--out", str(out)]
    _refused(capsys, main(["explore", "--objectives", "forget_kl", *common]), "forget")
    assert (out / "checkpoints").exists()  # the failed run had started its unit store
    _refused(capsys, main(["explore", "--resume", *common]), "holds no run", "drop --resume")
    assert main(["explore", *common]) == 0  # the corrected command, without --force
    assert (out / "summary.json").is_file()


def _byo(forget) -> None:
    x, y = torch.randn(40, 1, 8, 8), torch.arange(40) % 4
    model = build_model("mlp", n_classes=4, input_shape=(1, 8, 8), seed=0)
    UnlearningTask.from_data(model, x, y, x[:8], y[:8], np.asarray(forget), progress=False)


@pytest.mark.parametrize("forget, needle", [
    ([1.0, 2.5], "got 2.5"),
    ([3, -1], "got -1"),
    (np.arange(40), "cover 40 of the 40"),
    ([True, False], "integers"),
], ids=["float", "negative", "everything", "bool"])
def test_bring_your_own_with_bad_forget_indices(forget, needle):
    with pytest.raises(DataError, match=needle):
        _byo(forget)
