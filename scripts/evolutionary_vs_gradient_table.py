"""Print the tables of ``scripts/evolutionary_vs_gradient.sh OUT_DIR`` (the evolutionary searches
against the gradient fronts) and write ``OUT_DIR/evolutionary_vs_gradient.csv``.

Usage: ``python scripts/evolutionary_vs_gradient_table.py OUT_DIR``

The seeds and cases are the ``s{seed}-{case}-cmp`` folders found in OUT_DIR. The oracle-free picks are
the rule of ``docs/definitions.md`` §6 (:class:`pareto_unlearn.OracleFree`), among each solver's points
and θ0, as ``compare`` makes them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd

from pareto_unlearn.front import Front
from pareto_unlearn.selection import OracleFree

CASES = ("r-uni", "r-held", "c-uni", "c-held")
WARM = ("nsga2-ls-warm", "sms-emoa-ls-warm")
GRADIENT = ("jd", "ls")


def _runs(out: Path) -> list[tuple[int, str]]:
    found = []
    for path in sorted(out.glob("s*-*-cmp")):
        match = re.fullmatch(r"s(\d+)-(.+)-cmp", path.name)
        if match and match.group(2) in CASES:
            found.append((int(match.group(1)), match.group(2)))
    if not found:
        raise SystemExit(f"{out}: no s{{seed}}-{{case}}-cmp folders; run scripts/evolutionary_vs_gradient.sh")
    return sorted(found, key=lambda r: (r[0], CASES.index(r[1])))


def oracle_free_picks(run: Path, solvers) -> pd.DataFrame:
    """Each solver's oracle-free pick among its points and θ0: Avg. Gap (evaluation only), predicted gap
    g̃ with its interval, band size and whether θ0 was in the band."""
    summary = json.loads((run / "summary.json").read_text())
    rule = OracleFree.for_summary(summary)
    front = Front.load(run / "front")
    rows = []
    for solver in solvers:
        part = front.take((front.solver == solver) | (front.solver == "Original"))
        pick = rule.choose(part)
        rows.append(dict(solver=solver, pick_gap=float(part.metrics["gap"][pick.index]),
                         pick_solver=str(part.solver[pick.index]), predicted_gap=pick.gap,
                         interval=f"{pick.low:.2f}–{pick.high:.2f}",
                         band=f"{pick.band_size}/{pick.n_candidates}", theta0_in_band=pick.theta0_in_band))
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Print the tables; returns the per-solver frame that is also written as CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the OUT_DIR of scripts/evolutionary_vs_gradient.sh")
    out = parser.parse_args(argv).out
    runs = _runs(out)
    rows = []
    for seed, case in runs:
        table = pd.read_csv(out / f"s{seed}-{case}-cmp" / "compare.csv").set_index("solver")
        rows.extend(dict(seed=seed, case=case, solver=s, **table.loc[s].to_dict()) for s in table.index)
    df = pd.DataFrame(rows)
    df.to_csv(out / "evolutionary_vs_gradient.csv", index=False)
    warm = [w for w in WARM if w in set(df.solver)]
    gradient = [g for g in GRADIENT if g in set(df.solver)]
    print("| case | seed | solver | budget s / sample-passes | set by | HV ratio s / passes | HV@utility "
          "ratio s / passes | HV / best gradient | HV@utility / best gradient | HV over seeds | HV no "
          "gradient front dominates | oracle-free gap: this / " + " / ".join(gradient) + " |")
    print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for seed, case in runs:
        g = df[(df.case == case) & (df.seed == seed)].set_index("solver")
        best = g.loc[gradient, "hv"].idxmax()
        for solver in warm:
            if solver not in g.index:
                continue
            r = g.loc[solver]
            gaps = " / ".join(f"{v:.2f}" for v in (r.oracle_free_gap, *g.loc[gradient, "oracle_free_gap"]))
            budget = f"{r.gradient_budget_s:.3f} / {r.gradient_budget_passes:.0f}"
            print(f"| {case} | {seed} | {solver} | {budget} | {best} "
                  f"| {r.hv_ratio:.3f} / {r.hv_ratio_passes:.3f} | {r.hv_utility_ratio:.3f} / "
                  f"{r.hv_utility_ratio_passes:.3f} | {r.hv:.3f} / {g.loc[best, 'hv']:.3f} | "
                  f"{r.hv_utility:.3f} / {g.loc[gradient, 'hv_utility'].max():.3f} | {r.hv_over_seeds:.3f} | "
                  f"{r.hv_not_dominated_by_gradient:.3f} | {gaps} |")
    print("\nMean oracle-free pick gap over the seeds:")
    every_seed = df[df.solver.isin([*gradient, *warm])]
    cases = [c for c in CASES if c in set(df.case)]
    print(every_seed.pivot_table(index="case", columns="solver", values="oracle_free_gap").loc[cases]
          .round(3).to_string())
    if (df.seed == 0).any():
        print("\nSeed 0, every solver:")
        columns = [c for c in ("hv", "wall_s", "hv_ratio", "hv_ratio_passes", "hv_utility_ratio_passes",
                               "hv_not_dominated_by_gradient", "oracle_free_gap", "best_gap_nd",
                               "median_stationarity_gap") if c in df.columns]
        print(df[df.seed == 0].pivot_table(index="solver", columns="case", values=columns, dropna=False)
              .round(3).to_string())
    print("\nThe oracle-free picks (each solver's points and θ0): Avg. Gap, predicted gap g̃ and its 90 % "
          "interval, band size, θ0 in the band:")
    picks = pd.concat([oracle_free_picks(out / f"s{seed}-{case}", [*gradient, *warm])
                       .assign(seed=seed, case=case) for seed, case in runs])
    print(picks.set_index(["case", "seed", "solver"]).round(3).to_string())
    return df


if __name__ == "__main__":
    main()
