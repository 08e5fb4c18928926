"""Every value a user types or a file holds either parses or raises the project's typed error — never
anything else (no TypeError, IndexError, RecursionError, OverflowError...). Property-based (hypothesis),
reproducible (``derandomize=True``) and bounded (few examples, no deadline) so that CI stays fast."""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pareto_unlearn.config import RunConfig, load_config, recipe_for
from pareto_unlearn.exceptions import ParetoUnlearnError
from pareto_unlearn.experiments import parse_budgets
from pareto_unlearn.manifest import check_manifest
from pareto_unlearn.rundir import check_summary, read_summary
from pareto_unlearn.selection import Constrained, Knee, Preference
from pareto_unlearn.selection_export import _weights
from pareto_unlearn.task._splits import parse_forget

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Text that looks like what users type: numbers, separators, names, signs, spaces, and anything else.
PIECES = ["0", "1", "-1", "0.5", "1e309", "nan", "inf", "-inf", "1e-400", "99", ",", ":", " ", ">=", "<=",
          ">", "<", "=", "==", "RA", "TA", "gap", "forget_kl", "random", "class", "jd", "ls",
          "nsga2-last-layer",
          "x", ".", "+", "_", "\t", "\n", "é", "\x00", "9" * 40]
typed = st.one_of(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), st.text(max_size=40))


def _fine_or_typed(call, *args: Any) -> None:
    try:
        call(*args)
    except ParetoUnlearnError:
        pass


@pytest.mark.fault(what="--forget: any text (fuzzed)", answer="parses or ConfigError/DataError, one line")
@FUZZ
@given(typed)
def test_forget(text: str):
    _fine_or_typed(parse_forget, text, 10)


@pytest.mark.fault(what="--seeds: any text (fuzzed)", answer="parses or ConfigError")
@FUZZ
@given(typed)
def test_seeds(text: str):
    _fine_or_typed(lambda: RunConfig().merged({"seeds": text}))


@pytest.mark.fault(what="--solvers: any text (fuzzed)", answer="parses or ConfigError")
@FUZZ
@given(typed)
def test_solvers(text: str):
    _fine_or_typed(lambda: RunConfig().merged({"solvers": text}))


@pytest.mark.fault(what="--constraint: any text (fuzzed)", answer="parses or ConfigError")
@FUZZ
@given(st.one_of(typed, st.lists(typed, max_size=3)))
def test_constraint(text):
    _fine_or_typed(Constrained, text, Knee())


@pytest.mark.fault(what="--weights: any text (fuzzed)", answer="parses or ConfigError")
@FUZZ
@given(typed)
def test_weights(text: str):
    def parse() -> None:
        weights = _weights(text)
        if weights is not None:
            Preference(weights)
    _fine_or_typed(parse)


@pytest.mark.fault(what="--budgets: any text (fuzzed)", answer="parses or ConfigError")
@FUZZ
@given(st.one_of(typed, st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=5)), max_size=4)))
def test_budgets(value):
    _fine_or_typed(parse_budgets, value)


# ------------------------------------------------------------------ the TOML config

KEYS = [*RunConfig.keys(), "unknown", "épée"]
scalars = st.one_of(st.integers(-10**20, 10**20), st.floats(), st.booleans(), st.text(max_size=12),
                    st.sampled_from(["digits", "mlp", "0,1", "random:0.5", "class:3", "jd", "ls", "uniform"]))
values = st.one_of(scalars, st.lists(scalars, max_size=4))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return "inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


@st.composite
def toml_documents(draw) -> str:
    lines = [f"{json.dumps(k)} = {_toml_value(draw(values))}"
             for k in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=5))]
    for table in draw(st.lists(st.sampled_from(["recipe", "methods.FT", "methods.bogus", "explore.jd",
                                                "explore.ls", "explore.nsga2-last-layer", "explore.bogus"]),
                               unique=True, max_size=3)):
        lines.append(f"[{table}]")
        for key in draw(st.lists(st.sampled_from(["epochs", "lr", "lrs", "weights", "pop_size", "n_gen",
                                                  "alpha", "batch_size", "milestones", "bogus"]),
                                 unique=True, max_size=3)):
            lines.append(f"{key} = {_toml_value(draw(values))}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=20)))  # and sometimes a line of anything
    return "\n".join(lines) + "\n"


@pytest.mark.fault(what="the TOML config: any document (fuzzed, incl. invalid TOML and wrong types)",
                   answer="loads or ConfigError naming the file or key")
@FUZZ
@given(toml_documents())
def test_toml_config(document: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.toml"
        path.write_text(document, encoding="utf-8", errors="surrogatepass")

        def load() -> None:
            cfg = load_config(path)
            recipe_for(cfg)
            cfg.method_specs()
        _fine_or_typed(load)


# ------------------------------------------------------------------ the manifest and summary readers

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=14), inner,
                                            max_size=5)),
    max_leaves=20)


@st.composite
def summaries(draw) -> Any:
    """Near-valid summaries: the right keys with values of any type, or anything at all."""
    if draw(st.booleans()):
        return draw(json_values)
    keys = ["schema_version", "complete", "task", "objectives", "reference", "kl_direction",
            "hv_reference_point", "original", "retrain", "solvers", "manifest"]
    good = {"schema_version": 1, "complete": True, "task": {}, "objectives": ["forget_kl", "retain_ce"],
            "reference": "uniform", "kl_direction": "model-ref", "hv_reference_point": [1.0, 2.0],
            "original": {}, "retrain": {}, "solvers": {"jd": {"hv": 0.1}}, "manifest": {"versions": {}}}
    for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)):
        good[key] = draw(json_values)
    return good


@pytest.mark.fault(what="summary.json: any JSON value or bytes (fuzzed)", answer="reads or RunDirError")
@FUZZ
@given(summaries(), st.binary(max_size=40))
def test_summary_reader(summary, raw: bytes):
    _fine_or_typed(check_summary, summary)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "summary.json"
        path.write_bytes(raw)
        _fine_or_typed(read_summary, path)
        path.write_text(json.dumps(summary))
        _fine_or_typed(read_summary, path)


@pytest.mark.fault(what="the manifest in summary.json: any JSON value (fuzzed)",
                   answer="reads or RunDirError")
@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries({"versions": json_values, "hardware": json_values,
                                                      "git_commit": json_values})))
def test_manifest_reader(manifest):
    _fine_or_typed(check_manifest, manifest)
