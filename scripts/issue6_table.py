"""Print issue 6's tables from the runs of ``scripts/issue6_study.sh OUT_DIR``.

Usage: ``python scripts/issue6_table.py OUT_DIR``
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pareto_unlearn.front import Front
from pareto_unlearn.selection import SEL_ACC_MARGIN

CASES = ("r-uni", "r-held", "c-uni", "c-held")
TOLERANCE = 1.0  # points of forget accuracy above the front's lowest, for the stricter class-wise rule
WARM = ("nsga2-ls-warm", "sms-emoa-ls-warm")
ORDER = {**{c: i for i, c in enumerate(CASES)}, **{w: i for i, w in enumerate(WARM)}}


def main(out: Path) -> None:
    rows = []
    for seed in (0, 1, 2):
        for case in CASES:
            table = pd.read_csv(out / f"s{seed}-{case}-cmp" / "compare.csv").set_index("solver")
            rows.extend(dict(seed=seed, case=case, solver=s, **table.loc[s].to_dict()) for s in table.index)
    df = pd.DataFrame(rows)
    df.to_csv(out / "issue6.csv", index=False)
    print("| case | seed | solver | budget s / sample-passes | set by | HV ratio s / passes | HV@utility "
          "ratio s / passes | HV / best gradient | HV@utility / best gradient | HV over seeds | HV no "
          "gradient front dominates | oracle-free gap: this / ls / jd |")
    print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    warm = df[df.solver.isin(WARM)].sort_values(["case", "seed", "solver"], key=lambda c: c.map(ORDER))
    for _, r in warm.iterrows():
        case, seed = r.case, r.seed
        g = df[(df.case == case) & (df.seed == seed)].set_index("solver")
        best = g.loc[["jd", "ls"], "hv"].idxmax()
        gaps = " / ".join(f"{v:.2f}" for v in (r.oracle_free_gap, *g.loc[["ls", "jd"], "oracle_free_gap"]))
        budget = f"{r.gradient_budget_s:.3f} / {r.gradient_budget_passes:.0f}"
        print(f"| {case} | {seed} | {r.solver} | {budget} | {best} "
              f"| {r.hv_ratio:.3f} / {r.hv_ratio_passes:.3f} | {r.hv_utility_ratio:.3f} / "
              f"{r.hv_utility_ratio_passes:.3f} | {r.hv:.3f} / {g.loc[best, 'hv']:.3f} | "
              f"{r.hv_utility:.3f} / {g.loc[['jd', 'ls'], 'hv_utility'].max():.3f} | {r.hv_over_seeds:.3f} | "
              f"{r.hv_not_dominated_by_gradient:.3f} | {gaps} |")
    print("\nMean oracle-free pick gap over the three seeds:")
    every_seed = df[df.solver.isin(["jd", "ls", *WARM])]
    print(every_seed.pivot_table(index="case", columns="solver", values="oracle_free_gap").loc[list(CASES)]
          .round(3).to_string())
    print("\nSeed 0, every solver:")
    columns = ["hv", "wall_s", "hv_ratio", "hv_ratio_passes", "hv_utility_ratio_passes",
               "hv_not_dominated_by_gradient", "oracle_free_gap", "best_gap_nd", "median_stationarity_gap"]
    print(df[df.seed == 0].pivot_table(index="solver", columns="case", values=columns).round(3).to_string())
    print(f"\nClass-wise picks, mean gap over the seeds: SPEC §6 (forget accuracy <= 100/C) against the "
          f"stricter rule (forget accuracy <= the lowest + {TOLERANCE:g}, then the lowest retain_ce):")
    stricter = pd.DataFrame([dict(case=case, seed=seed, solver=solver, gap=gap)
                             for seed in (0, 1, 2) for case in CASES if case.startswith("c-")
                             for solver, gap in _stricter_class_gaps(out / f"s{seed}-{case}").items()])
    spec = df[df.case.str.startswith("c-") & df.solver.isin(stricter.solver.unique())]
    both = pd.concat([
        spec.pivot_table(index="case", columns="solver", values="oracle_free_gap").assign(rule="SPEC §6"),
        stricter.pivot_table(index="case", columns="solver", values="gap").assign(rule="stricter")])
    print(both.reset_index().set_index(["rule", "case"]).round(3).to_string())


def _stricter_class_gaps(run: Path) -> dict[str, float]:
    """Avg. Gap of each solver's pick under the stricter class-wise rule, with the same utility guard as
    compare (D_h,sel accuracy within SEL_ACC_MARGIN of θ0's; selection data only)."""
    summary = json.loads((run / "summary.json").read_text())
    min_sel = summary["original"]["metrics"]["sel_acc"] - SEL_ACC_MARGIN
    front = Front.load(run / "front")
    gaps = {}
    for solver in ("jd", "ls", *WARM):
        part = front.take(front.solver == solver)
        ok = np.isfinite(part.F).all(axis=1) & (part.metrics["sel_acc"] >= min_sel)
        rows = np.flatnonzero(ok) if ok.any() else np.flatnonzero(np.isfinite(part.F).all(axis=1))
        forget_acc = part.metrics["forget_acc"][rows]
        close = rows[forget_acc <= forget_acc.min() + TOLERANCE]
        retain_ce = part.F[close, list(part.objective_names).index("retain_ce")]
        gaps[solver] = float(part.metrics["gap"][close[np.argmin(retain_ce)]])
    return gaps


if __name__ == "__main__":
    main(Path(sys.argv[1]))
