"""Nothing a user hands in is unpickled: the package's own source is scanned for the calls that would."""

from __future__ import annotations

import ast
from pathlib import Path

import pareto_unlearn

PACKAGE = Path(pareto_unlearn.__file__).parent
# CIFAR batches are pickles: torchvision reads them after its md5 check of the official files (the one
# exception, with a test-only bypass beside it); the synthetic-file writer only dumps that format.
READS_CIFAR_PICKLES = "task/_torchvision.py"
WRITES_CIFAR_PICKLES = "task/_synthetic.py"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return ast.unparse(kw.value)
    return None


def test_no_unsafe_deserialisation_in_the_package():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call, func in _calls(tree):
            where = f"{rel}:{call.lineno} {func}"
            if func in ("pickle.load", "pickle.loads", "cloudpickle.load", "dill.load") \
                    and rel != READS_CIFAR_PICKLES:
                problems.append(where)
            if func == "torch.load" and _keyword(call, "weights_only") != "True":
                problems.append(where + " without weights_only=True")
            if func.endswith("np.load") and _keyword(call, "allow_pickle") != "False":
                problems.append(where + " without allow_pickle=False")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and rel not in (READS_CIFAR_PICKLES,
                                                                               WRITES_CIFAR_PICKLES):
                module = [node.module] if isinstance(node, ast.ImportFrom) else []
                names = [a.name for a in node.names] + module
                if any(n and n.split(".")[0] in ("pickle", "dill", "cloudpickle", "joblib") for n in names):
                    problems.append(f"{rel}:{node.lineno} imports a pickle module")
    assert not problems, problems


def test_the_scan_would_catch_an_unsafe_call():
    tree = ast.parse("import torch, numpy as np\ntorch.load(p)\nnp.load(p)\n")
    flagged = [func for call, func in _calls(tree)
               if (func == "torch.load" and _keyword(call, "weights_only") != "True")
               or (func.endswith("np.load") and _keyword(call, "allow_pickle") != "False")]
    assert flagged == ["torch.load", "np.load"]
