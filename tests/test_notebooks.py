"""The notebooks run headless, top to bottom, in their quick setting (``PARETO_UNLEARN_NB_QUICK=1``)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ("01_quickstart", "02_moea_vs_jacobian_descent", "03_cifar10_paper_setting", "04_fashion_mnist")


def test_the_notebooks_are_there_with_outputs_stripped():
    for name in EXPECTED:
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and "QUICK" in code[0].source, name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name}: strip its outputs"


@pytest.mark.slow  # 17 s, 100 s, 20 s and 47 s (04, on a shared machine) on two cores
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_without_error(name, tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("PARETO_UNLEARN_NB_QUICK", "1")
    monkeypatch.setenv("PARETO_UNLEARN_CACHE", str(cache_dir))  # models shared with the other tests
    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, at the first error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
