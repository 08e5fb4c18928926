"""The paper's Table 1 on digits: ``pareto-unlearn table`` on random 10 %, random 50 % and class 3, every
row (Retrain, Original, FT, GA, IU, ℓ1-sparse, RL, SalUn and the four RAUL rows), and
docs/table1_digits.md written from the three tables and the digits grids.

Usage: ``python scripts/table1_digits.py [--seeds 0,1,2] [--runs runs] [--doc docs/table1_digits.md]``
(models from the model cache; each forget set's run directory is ``RUNS/table-<forget set>``, started over).
``--quick``: seed 0, one grid point per method and one epoch, no doc unless ``--doc`` is given: a smoke
test, not a measurement.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pareto_unlearn._io import atomic_write_text
from pareto_unlearn.config import RunConfig, default_methods
from pareto_unlearn.experiments import run_table
from pareto_unlearn.rundir import prepare_out_dir

ROOT = Path(__file__).resolve().parents[1]
FORGET_SETS = {"Random 10 %": "random:0.1", "Random 50 %": "random:0.5", "Class-wise (class 3)": "class:3"}

HEADER = """# The paper's Table 1 on digits

The layout of the RAUL paper's Table 1 (every baseline, Original, Retrain and the four RAUL rows, in the
metrics of [definitions.md](definitions.md) §3), made by the tool on digits for three forget sets with
`python scripts/table1_digits.py`, which runs

```bash
{commands}
```

and pastes each `DIR/table.md` below unchanged; grid, scores and choice of every row are in
`DIR/results.json`. Every method's lr (IU: α) is chosen on D_h,sel by the oracle-free rule of
definitions.md §6; forget_kl is against the uniform reference for every row. The baselines follow the
reference code the paper ran (definitions.md §2; `tests/test_baselines_reference.py`).
"""


def _slug(forget: str) -> str:
    return forget.replace(":", "").replace(".", "")


def _grids_text() -> str:
    """The digits grids, read from the defaults (so the doc says what ran)."""
    specs = default_methods("digits")

    def values(xs: tuple[float, ...]) -> str:
        return "{" + ", ".join(f"{x:g}" for x in xs) + "}"

    parts = []
    for name, spec in specs.items():
        if not spec.lr:  # IU: one shot, α only
            parts.append(f"{name} α {values(spec.alpha)} (one shot)")
        elif spec.alpha:
            parts.append(f"{name} lr {values(spec.lr)} × α {values(spec.alpha)} × {spec.epochs} epochs")
        else:
            parts.append(f"{name} {values(spec.lr)} × {spec.epochs} epochs")
    return ("**Grids for digits** (batch 64, SGD momentum 0.9, weight decay 5e-4, constant lr; "
            "`pareto_unlearn/config.py`, also in [definitions.md](definitions.md) §2): " + "; ".join(parts)
            + ". They were chosen by scanning each method's lr (IU: α) on random 50 % forgetting from "
            "\"barely leaves θ0\" to \"retain accuracy collapses\" and keeping the span between. The "
            "CIFAR-10 grids are the paper's (`configs/`).\n")


def main(argv: list[str] | None = None) -> str:
    """Run the three tables; write the doc (not with ``--quick`` unless ``--doc``); returns its text."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--runs", default="runs", help="folder of the run directories (default runs)")
    parser.add_argument("--doc", default=None, help="the markdown to write (default docs/table1_digits.md)")
    parser.add_argument("--quick", action="store_true", help="seed 0, one grid point, one epoch (smoke test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = (0,) if args.quick else tuple(int(s) for s in args.seeds.split(","))
    methods = {}
    if args.quick:
        for name, spec in default_methods("digits").items():
            methods[name] = {"epochs": 1, **({"lr": [spec.lr[0]]} if spec.lr else {}),
                             **({"alpha": [spec.alpha[0]]} if spec.alpha else {})}
    sections = []
    for title, forget in FORGET_SETS.items():
        cfg = RunConfig(task="digits", forget=forget, seeds=seeds, methods=methods)
        out = prepare_out_dir(Path(args.runs) / f"table-{_slug(forget)}", force=True)
        run_table(cfg, out, progress=False)
        sections.append(f"## {title}\n\n" + (out / "table.md").read_text(encoding="utf-8"))
        print(f"{title}: {out}/table.md", flush=True)
    seed_list = ",".join(map(str, seeds))
    commands = "\n".join(f"pareto-unlearn table --task digits --forget {f} --seeds {seed_list} "
                         f"--out runs/table-{_slug(f)}" for f in FORGET_SETS.values())
    text = (HEADER.format(commands=commands)
            + "\n" + "\n".join(sections) + "\n" + _grids_text())
    doc = args.doc or (None if args.quick else str(ROOT / "docs" / "table1_digits.md"))
    if doc is not None:
        atomic_write_text(Path(doc), text)
        print(f"wrote {doc}")
    return text


if __name__ == "__main__":
    main()
