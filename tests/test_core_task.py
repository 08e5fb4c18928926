"""Splits (SPEC §2), the forget-spec parser and the model cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import pareto_unlearn.task._cache as cache_module
import pareto_unlearn.task._task as task_module
from pareto_unlearn.exceptions import CacheError, ConfigError, DataError
from pareto_unlearn.task import (
    SPLIT_KEYS,
    ModelCache,
    Splits,
    TrainRecipe,
    load_dataset,
    load_state_checked,
    load_task,
    make_splits,
    parse_forget,
    state_dict_hash,
)


@pytest.fixture(scope="module")
def digits_labels() -> np.ndarray:
    return load_dataset("digits").y_train.numpy()


def _split(labels: np.ndarray, forget: str, seed: int = 0) -> Splits:
    return make_splits(labels, parse_forget(forget, n_classes=10), seed=seed)


# ---------------------------------------------------------------------------------------------- splits
@pytest.mark.parametrize("forget", ["random:0.1", "random:0.5", "class:3", "class:3,5"])
def test_splits_are_disjoint_and_partition(digits_labels: np.ndarray, forget: str) -> None:
    s = _split(digits_labels, forget)
    sets = [set(a.tolist()) for a in s.as_dict().values()]
    assert sum(len(x) for x in sets) == len(digits_labels)
    assert set().union(*sets) == set(range(len(digits_labels)))
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            assert not sets[i] & sets[j], (SPLIT_KEYS[i], SPLIT_KEYS[j])
    for key, array in s.as_dict().items():
        assert len(np.unique(array)) == len(array), key
    s.check(len(digits_labels))


def test_splits_sizes_follow_the_spec(digits_labels: np.ndarray) -> None:
    """test = 20 % of each class, held-out = 20 % of the rest (SPEC §2 for digits), halved into reference /
    selection."""
    s = _split(digits_labels, "random:0.1")
    for c in range(10):
        n_c = int((digits_labels == c).sum())
        test_c = int((digits_labels[s.test] == c).sum())
        assert abs(test_c - 0.2 * n_c) <= 1, (c, test_c, n_c)
        ref_c = int((digits_labels[s.heldout_reference] == c).sum())
        sel_c = int((digits_labels[s.heldout_selection] == c).sum())
        assert abs((ref_c + sel_c) - 0.2 * (n_c - test_c)) <= 1, (c, ref_c, sel_c)
        assert abs(ref_c - sel_c) <= 1, (c, ref_c, sel_c)
    n = len(digits_labels)
    assert abs(len(s.test) - 0.2 * n) <= 10
    n_heldout = len(s.heldout_reference) + len(s.heldout_selection)
    assert abs(n_heldout - 0.2 * (n - len(s.test))) <= 10
    assert abs(len(s.heldout_reference) - len(s.heldout_selection)) <= 10


@pytest.mark.parametrize("ratio", [0.1, 0.5])
def test_random_forget_is_stratified(digits_labels: np.ndarray, ratio: float) -> None:
    s = _split(digits_labels, f"random:{ratio}")
    train = np.concatenate([s.forget, s.retain])
    for c in range(10):
        n_c = int((digits_labels[train] == c).sum())
        f_c = int((digits_labels[s.forget] == c).sum())
        assert abs(f_c - ratio * n_c) <= 1, (c, f_c, n_c)


@pytest.mark.parametrize("forget, classes", [("class:3", {3}), ("class:3,5", {3, 5})])
def test_classwise_forget_is_every_train_sample_of_the_classes(digits_labels, forget, classes) -> None:
    s = _split(digits_labels, forget)
    train = np.concatenate([s.forget, s.retain])
    expected = {int(i) for i in train if int(digits_labels[i]) in classes}
    assert set(s.forget.tolist()) == expected
    assert set(digits_labels[s.forget].tolist()) == classes
    assert not set(digits_labels[s.retain].tolist()) & classes
    # The forgotten classes still have test samples (TA_forgotten) and held-out samples.
    assert set(digits_labels[s.test].tolist()) >= classes


def test_same_seed_same_splits_other_seed_other_splits(digits_labels: np.ndarray) -> None:
    a, b, c = (_split(digits_labels, "random:0.1", seed) for seed in (0, 0, 1))
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.fingerprint == b.fingerprint
    assert any(not np.array_equal(getattr(a, k), getattr(c, k)) for k in SPLIT_KEYS)
    assert not np.array_equal(a.forget, c.forget)
    assert a.fingerprint != c.fingerprint


def test_splits_check_refuses_overlap_and_gaps(digits_labels: np.ndarray) -> None:
    s = _split(digits_labels, "random:0.1")
    n = len(digits_labels)
    overlap = Splits(s.forget, np.concatenate([s.retain, s.forget[:1]]), s.heldout_reference,
                     s.heldout_selection, s.test)
    with pytest.raises(DataError):
        overlap.check(n)
    gap = Splits(s.forget[1:], s.retain, s.heldout_reference, s.heldout_selection, s.test)
    with pytest.raises(DataError):
        gap.check(n)


def test_splits_save_load_round_trip(digits_labels: np.ndarray, tmp_path: Path) -> None:
    s = _split(digits_labels, "random:0.5")
    path = tmp_path / "splits.npz"
    s.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(SPLIT_KEYS) <= set(data.files)
        for key in SPLIT_KEYS:
            np.testing.assert_array_equal(data[key], getattr(s, key))
    loaded = Splits.load(path)
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(getattr(loaded, key), getattr(s, key))
    assert loaded.separate_test == s.separate_test
    assert loaded.fingerprint == s.fingerprint


def test_splits_load_refuses_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "splits.npz"
    path.write_bytes(b"not an npz file")
    with pytest.raises(CacheError):
        Splits.load(path)


def test_task_uses_its_splits(digits_task) -> None:
    raw = load_dataset("digits")
    expected = make_splits(raw.y_train.numpy(), parse_forget("random:0.5"), seed=0)
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(getattr(digits_task.splits, key), getattr(expected, key))
        subset = getattr(digits_task, key)
        index = torch.as_tensor(getattr(expected, key))
        assert torch.equal(subset.x.cpu(), raw.x_train[index])
        assert torch.equal(subset.y.cpu(), raw.y_train[index])
    members = digits_task.mia_members
    assert len(np.unique(members)) == len(members) == len(digits_task.test)
    assert members.min() >= 0 and members.max() < len(digits_task.retain)


def test_test_nonforgotten_mask(digits_task, digits_class_task) -> None:
    assert bool(digits_task.test_nonforgotten_mask().all())
    mask = digits_class_task.test_nonforgotten_mask()
    assert torch.equal(mask, digits_class_task.test.y != 3)
    assert digits_class_task.forgotten_classes == (3,)


# ---------------------------------------------------------------------------------------------- parse_forget
def test_parse_forget_accepts_good_specs() -> None:
    assert parse_forget("random:0.1").ratio == pytest.approx(0.1)
    spec = parse_forget("class:5,3", n_classes=10)
    assert spec.kind == "class" and spec.classes == (3, 5)
    assert str(parse_forget(" class : 3 ", n_classes=10)) == "class:3"


@pytest.mark.parametrize("text", [
    "random:0", "random:1", "random:1.5", "random:x", "random:-0.2",
    "class:", "class:12", "class:a", "forget:3",
])
def test_parse_forget_errors_name_the_value(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_forget(text, n_classes=10)
    assert text in str(info.value)


def test_load_task_refuses_an_out_of_range_class(cache_dir: Path) -> None:
    with pytest.raises(ConfigError, match="12"):
        load_task("digits", forget="class:12", cache_dir=str(cache_dir), progress=False)


# ---------------------------------------------------------------------------------------------- model cache
def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


class _CountingTrainer:
    """A stand-in for training: sets the weights from a seed and counts the calls."""

    def __init__(self, seed: int = 123) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self, model: nn.Module) -> dict:
        self.calls += 1
        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        return {"train_seconds": 1.5}


FIELDS = {"role": "original", "seed": 0, "recipe": {"epochs": 3, "lr": 0.1}, "train_idx": "abc"}


def test_cache_hit_does_not_train(tmp_path: Path) -> None:
    cache, trainer = ModelCache(tmp_path), _CountingTrainer()
    first, facts = cache.get_or_train(_net(0), dict(FIELDS), trainer)
    assert trainer.calls == 1 and facts["train_seconds"] == 1.5
    weights, record = cache.paths(cache.key(FIELDS))
    assert weights.is_file() and record.is_file()
    second, facts = cache.get_or_train(_net(1), dict(FIELDS), trainer)
    assert trainer.calls == 1
    assert facts["train_seconds"] == 1.5
    assert state_dict_hash(first) == state_dict_hash(second)


@pytest.mark.parametrize("change", [{"seed": 1}, {"recipe": {"epochs": 4, "lr": 0.1}}, {"train_idx": "abd"},
                                    {"role": "retrain"}])
def test_cache_changed_field_misses(tmp_path: Path, change: dict) -> None:
    cache, trainer = ModelCache(tmp_path), _CountingTrainer()
    cache.get_or_train(_net(), dict(FIELDS), trainer)
    cache.get_or_train(_net(), {**FIELDS, **change}, trainer)
    assert trainer.calls == 2
    assert cache.key(FIELDS) != cache.key({**FIELDS, **change})


def test_cache_entry_made_under_other_facts_is_rebuilt_and_says_so(tmp_path: Path, caplog) -> None:
    """An entry filled by older code under today's key (trained at 2 threads, by another torch) is not
    served: it is retrained, with a warning naming what disagreed."""
    cache = ModelCache(tmp_path)
    expect = {"torch": torch.__version__, "cpu_threads": 1}
    old = _CountingTrainer(seed=7)
    cache.get_or_train(_net(), dict(FIELDS), lambda m: {**old(m), "torch": "2.0.0", "cpu_threads": 2})
    stale = cache.paths(cache.key(FIELDS))[0].read_bytes()
    fresh = _CountingTrainer(seed=8)
    with caplog.at_level("WARNING", logger="pareto_unlearn.task._cache"):
        model, facts = cache.get_or_train(_net(), dict(FIELDS), lambda m: {**fresh(m), **expect},
                                          expect=expect)
    assert fresh.calls == 1, "an entry that disagrees with its key must be rebuilt"
    assert facts["torch"] == torch.__version__ and facts["cpu_threads"] == 1
    assert cache.paths(cache.key(FIELDS))[0].read_bytes() != stale
    assert "torch '2.0.0'" in caplog.text and "cpu_threads 2" in caplog.text and "retraining" in caplog.text
    # The rebuilt entry now agrees: a hit.
    cache.get_or_train(_net(), dict(FIELDS), fresh, expect=expect)
    assert fresh.calls == 1


def test_cache_entry_whose_recorded_fields_differ_is_rebuilt(tmp_path: Path) -> None:
    cache, trainer = ModelCache(tmp_path), _CountingTrainer()
    cache.get_or_train(_net(), dict(FIELDS), trainer)
    record_path = cache.paths(cache.key(FIELDS))[1]
    record = json.loads(record_path.read_text())
    record["fields"]["seed"] = 5  # written for other settings, then filed under this key
    record_path.write_text(json.dumps(record))
    cache.get_or_train(_net(), dict(FIELDS), trainer)
    assert trainer.calls == 2


def test_task_cache_key_covers_the_training_procedure(tmp_path: Path, monkeypatch) -> None:
    """The training version, the CPU thread rule and torch's version are in the key: changing any of
    them trains anew instead of serving weights another procedure made."""

    kwargs = {"seed": 0, "model": "mlp", "cache_dir": str(tmp_path), "progress": False,
              "recipe": TrainRecipe(epochs=1)}
    load_task("digits", forget="random:0.5", **kwargs)
    records = sorted(p.name for p in tmp_path.glob("*.json"))
    fields = json.loads(next(tmp_path.glob("*.json")).read_text())["fields"]
    assert fields["torch"] == torch.__version__ and fields["cpu_thread_rule"] == "one-thread"
    assert fields["training_version"] == task_module.TRAINING_VERSION
    monkeypatch.setattr(task_module, "TRAINING_VERSION", task_module.TRAINING_VERSION + 1)
    load_task("digits", forget="random:0.5", **kwargs)
    assert len(list(tmp_path.glob("*.json"))) == 2 * len(records)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_last_byte(path: Path) -> None:
    """Flip bits of the last byte: inside the tensor data, so the file still parses as safetensors."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip_last_byte], ids=["truncated", "flipped"])
def test_cache_corrupt_weights_are_rebuilt_never_loaded(tmp_path: Path, monkeypatch, damage) -> None:
    cache, trainer = ModelCache(tmp_path), _CountingTrainer()
    trained, _ = cache.get_or_train(_net(), dict(FIELDS), trainer)
    good = state_dict_hash(trained)
    weights, _ = cache.paths(cache.key(FIELDS))
    damage(weights)

    loads: list[str] = []
    real_load = cache_module.load_file

    def spy(path, *args, **kwargs):
        loads.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(cache_module, "load_file", spy)
    rebuilt, _ = cache.get_or_train(_net(5), dict(FIELDS), trainer)
    assert trainer.calls == 2, "a corrupt entry must be rebuilt"
    assert loads == [], "a corrupt weights file must never be loaded"
    assert state_dict_hash(rebuilt) == good
    # The rebuilt entry is whole again: the next call is a hit.
    again, _ = cache.get_or_train(_net(6), dict(FIELDS), trainer)
    assert trainer.calls == 2 and state_dict_hash(again) == good


def test_load_state_checked_names_the_mismatched_key(tmp_path: Path) -> None:
    model = _net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["2.weight"] = torch.zeros(2, 5)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    before = state_dict_hash(model)
    with pytest.raises(CacheError, match=r"2\.weight"):
        load_state_checked(model, path)
    assert state_dict_hash(model) == before  # nothing was half-loaded


def test_load_state_checked_missing_key_and_bad_hash(tmp_path: Path) -> None:
    model = _net()
    state = {k: v.clone() for k, v in model.state_dict().items() if k != "0.bias"}
    path = tmp_path / "missing.safetensors"
    save_file(state, str(path))
    with pytest.raises(CacheError, match=r"0\.bias"):
        load_state_checked(model, path)
    good = tmp_path / "good.safetensors"
    save_file({k: v.clone() for k, v in model.state_dict().items()}, str(good))
    load_state_checked(model, good)
    with pytest.raises(CacheError):
        load_state_checked(model, good, expected_sha256="0" * 64)


@pytest.fixture()
def counted_training(monkeypatch):
    """Record the role of every ``train_model`` call that ``load_task`` makes."""
    calls: list[str] = []
    real = task_module.train_model

    def counting(model, x, y, recipe, **kwargs):
        calls.append(kwargs.get("description", "?"))
        return real(model, x, y, recipe, **kwargs)

    monkeypatch.setattr(task_module, "train_model", counting)
    return calls


def test_load_task_caches_original_and_retrain(tmp_path: Path, counted_training: list[str]) -> None:
    tiny = TrainRecipe(epochs=1, milestones=())
    kwargs = {"seed": 0, "model": "mlp", "cache_dir": str(tmp_path), "progress": False}
    first = load_task("digits", forget="random:0.5", recipe=tiny, **kwargs)
    assert len(counted_training) == 2
    second = load_task("digits", forget="random:0.5", recipe=tiny, **kwargs)
    assert len(counted_training) == 2, "a cache hit must not train"
    assert first.theta0_hash == second.theta0_hash
    assert state_dict_hash(first.retrain) == state_dict_hash(second.retrain)

    counted_training.clear()
    load_task("digits", forget="random:0.5", recipe=TrainRecipe(epochs=2, milestones=()), **kwargs)
    assert len(counted_training) == 2, "another recipe must retrain both models"

    counted_training.clear()
    load_task("digits", forget="random:0.5", recipe=tiny, **{**kwargs, "seed": 1})
    assert len(counted_training) == 2, "another seed must retrain both models"

    counted_training.clear()
    load_task("digits", forget="random:0.3", recipe=tiny, **kwargs)
    assert any("retrain" in c for c in counted_training), "another retain set must retrain Retrain"


def test_theta0_is_the_same_at_any_thread_count(tmp_path: Path) -> None:
    """CPU kernels split their sums by thread, so training at 1 and 2 threads gives different bits;
    load_task trains on one thread so θ0 does not depend on ``--threads``."""
    recipe = TrainRecipe(epochs=2, milestones=())
    before = torch.get_num_threads()
    hashes = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            task = load_task("digits", forget="random:0.5", recipe=recipe, seed=0, model="mlp",
                             cache_dir=str(tmp_path / f"t{threads}"), progress=False)
            hashes.append(task.theta0_hash)
            assert torch.get_num_threads() == threads, "training must give the caller's thread count back"
    finally:
        torch.set_num_threads(before)
    assert hashes[0] == hashes[1]


def test_theta0_is_the_same_whatever_the_forget_split(tmp_path):
    """θ0 trains on D_f ∪ D_r, the same set under every forget split of one seed: its cache key names that
    set, so the model must not depend on the order a split lists it in (two fresh caches, two splits)."""
    a = load_task("digits", forget="random:0.1", seed=0, cache_dir=str(tmp_path / "a"), progress=False)
    b = load_task("digits", forget="class:3", seed=0, cache_dir=str(tmp_path / "b"), progress=False)
    assert a.theta0_hash == b.theta0_hash
