"""Evolutionary against gradient fronts on equal terms: the same search space, every budget.

For each forget set F and seed S this runs what a user runs,

    pareto-unlearn explore --task digits --forget F --seeds S --threads 1 --out D

(every default solver: the evolutionary searches of the last-layer, LoRA and LS-settings spaces, the
seeded searches that continue a same-space ls sweep, and jd / ls over every parameter, the last layer and
the LoRA adapters), then ``budget_table`` on the seeds of each F at budgets 1, 2, 5 and 10 times the
cheapest full-space gradient front's cost, in wall-clock seconds and in sample-passes. It writes
``docs/fair_comparison.md`` and ``docs/fair_comparison.png``: per space and budget, the mean over seeds
of the best evolutionary and the best gradient HV of that space and their ratio (also without the seeded
searches, so the plain search is judged on its own), the LS-settings searches against the best
full-space gradient family, and whether the goals hold.

Usage::

    python scripts/fair_comparison.py --no-dense              # 2 forget sets x 3 seeds, 13 minutes unloaded
    python scripts/fair_comparison.py --quick --work /tmp/w --md /tmp/f.md   # one tiny run (a test)
    python scripts/fair_comparison.py --task fashion-mnist --md docs/fair_comparison_fashion.md

The LoRA space alone on Fashion-MNIST, one seed (docs/fair_comparison_fashion.md, about 27 minutes)::

    python scripts/fair_comparison.py --task fashion-mnist --forgets random:0.5 --seeds 0 --no-dense
        --no-limits --solvers jd,ls,ls-lora,jd-lora,nsga2-lora-act,nsde-lora-act
        --md docs/fair_comparison_fashion.md

(one command, wrapped here). The low-dimensional genomes (``nsga2-last-layer-svd``, ``nsga2-lora-svd``,
``nsga2-lora-act``, ``nsde-lora-act``) search subspaces of the last-layer and LoRA spaces (each of their
points is a point of that space, in its box), so they are counted as evolutionary searches of the
last-layer and LoRA spaces: their HV within a budget is set against the gradient side of the whole space
(``ls-last-layer``, ``jd-last-layer``, ``ls-lora``, ``jd-lora``), which searches more freely than they do.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from pareto_unlearn import rebuild_model  # noqa: E402
from pareto_unlearn.cli import main as cli_main  # noqa: E402
from pareto_unlearn.experiments import budget_table  # noqa: E402
from pareto_unlearn.front import nondominated_mask  # noqa: E402
from pareto_unlearn.indicators import hv_reference_point, hypervolume  # noqa: E402
from pareto_unlearn.metrics import MetricEvaluator  # noqa: E402
from pareto_unlearn.objectives import make_objectives  # noqa: E402
from pareto_unlearn.plotting import solver_color  # noqa: E402
from pareto_unlearn.rundir import load_run  # noqa: E402
from pareto_unlearn.solvers import REGISTRY, EvolutionarySolver, default_settings, spread_first  # noqa: E402
from pareto_unlearn.spaces import (  # noqa: E402
    LastLayerSpace,
    LastLayerSVDSpace,
    LoRAActivationSpace,
    LoRASpace,
    LoRASVDSpace,
    ProjectionSpace,
)
from pareto_unlearn.task import load_task  # noqa: E402

FORGETS = ("random:0.5", "class:3")
SEEDS = (0, 1, 2)
BUDGETS = (1, 2, 5, 10)
SAME_SPACES = ("last-layer", "lora")
LS_SPACES = ("ls-warm", "ls-weights")
QUICK_SOLVERS = ("nsga2-last-layer,nsga2-last-layer-seeded,nsga2-last-layer-svd,ls-last-layer,jd-last-layer,"
                 "nsga2-ls-warm,jd,ls")
SEEDED = [n for n, e in REGISTRY.items() if e.fixed.get("seeded")]
# a low-dimensional genome's space → the space it is a subspace of (its points are that space's points)
SUBSPACE_OF = {LastLayerSVDSpace.name: "last-layer", LoRASVDSpace.name: "lora",
               LoRAActivationSpace.name: "lora"}
# searches that continue a gradient sweep (seeded, or LS fine-tunes warm-started from one): not "unseeded"
NOT_UNSEEDED = [*SEEDED, *(n for n, e in REGISTRY.items() if e.seeded_by)]
TASK = "digits"


def _explore(forget: str, seed: int, out: Path, quick: bool, reuse: bool, solvers: str | None = None) -> Path:
    if reuse and (out / "summary.json").is_file():
        return out
    args = ["explore", "--task", TASK, "--forget", forget, "--seeds", str(seed), "--threads", "1",
            "--no-progress", "--out", str(out), "--force"]
    if quick:
        args += ["--quick", "--solvers", solvers or QUICK_SOLVERS]
    elif solvers:
        args += ["--solvers", solvers]
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(args)
    if code != 0:
        raise SystemExit(f"explore {forget} seed {seed} failed (exit {code})")
    return out


def _dense_config(path: Path, quick: bool) -> Path:
    """Denser gradient sweeps (more weights, learning rates, preference directions, in the spread-first
    order), so that a gradient family keeps growing up to the 10× budget instead of stopping at its
    default sweep's cost."""
    n_ls, n_space = (8, 6) if quick else (40, 20)
    full = spread_first(np.round(np.linspace(0.025, 0.975, n_ls), 3))
    space = spread_first(np.round(np.linspace(0.05, 0.95, n_space), 3))
    prefs = "[[0.9, 0.1], [0.7, 0.3], [0.5, 0.5], [0.3, 0.7], [0.1, 0.9]]"
    epochs = 60 if quick else 150
    text = f"""solvers = ["jd", "ls", "ls-last-layer", "ls-lora"]

[explore.ls]
weights = {full}

[explore.jd]
lrs = [0.05, 0.1, 0.15, 0.2, 0.3]
pref_vectors = {prefs}

[explore.ls-last-layer]
weights = {space}
epochs = {epochs}

[explore.ls-lora]
weights = {space}
epochs = {epochs}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _explore_dense(forget: str, seed: int, out: Path, config: Path, reuse: bool) -> Path:
    if reuse and (out / "summary.json").is_file():
        return out
    args = ["explore", "--config", str(config), "--task", TASK, "--forget", forget, "--seeds", str(seed),
            "--threads", "1", "--no-progress", "--out", str(out), "--force"]
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(args)
    if code != 0:
        raise SystemExit(f"dense explore {forget} seed {seed} failed (exit {code})")
    return out


def _against_dense(table: pd.DataFrame, dense: pd.DataFrame) -> pd.DataFrame:
    """The best evolutionary HV of each space and budget (the default run) over the best gradient HV of
    the dense sweeps at the same absolute budget: same space, and against the full-space families."""
    keys = ["run_index", "budget_multiple", "space"]
    dense_full = dense[dense.space == "all-parameters"][["run_index", "budget_multiple", "gradient_hv"]]
    merged = table.merge(dense[keys + ["gradient_hv", "gradient_solver"]], on=keys, how="left",
                         suffixes=("", "_dense"))
    merged = merged.merge(dense_full.rename(columns={"gradient_hv": "dense_full_hv"}),
                          on=["run_index", "budget_multiple"], how="left")
    merged["ratio_dense"] = merged.evolutionary_hv / merged.gradient_hv_dense
    merged["vs_dense_full"] = merged.evolutionary_hv / merged.dense_full_hv
    return merged


def _dense_markdown(merged: pd.DataFrame) -> list[str]:
    grouped = merged.groupby(["space", "budget_multiple"], sort=False)
    cols = ["evolutionary_hv", "gradient_hv_dense", "ratio_dense", "dense_full_hv", "vs_dense_full"]
    out = grouped[cols].mean()
    out["min_ratio_dense"] = grouped.ratio_dense.min()
    out["min_vs_dense_full"] = grouped.vs_dense_full.min()
    lines = ["| space | budget | best evolutionary HV | dense same-space gradient HV | ratio (min) | "
             "dense full-space gradient HV | evolutionary / dense full (min) |",
             "|---|---|---|---|---|---|---|"]
    for (space, budget), r in out.iterrows():
        if space == "all-parameters":
            continue
        lines.append(f"| {space} | {budget:g}× | {_fmt(r.evolutionary_hv)} | {_fmt(r.gradient_hv_dense)} | "
                     f"{_fmt(r.ratio_dense)} ({_fmt(r.min_ratio_dense)}) | {_fmt(r.dense_full_hv)} | "
                     f"{_fmt(r.vs_dense_full)} ({_fmt(r.min_vs_dense_full)}) |")
    return lines


def _without_seeded(run_dir: Path, left_out: list[str] = SEEDED) -> tuple[dict[str, Any], Any]:
    """The run as a (summary, Front) pair without the seeded searches (``left_out``): the plain search
    judged alone."""
    summary, front = load_run(run_dir)
    keep = ~np.isin(front.solver.astype(str), left_out)
    summary = {**summary, "solvers": {k: v for k, v in summary["solvers"].items() if k not in left_out}}
    return summary, front.take(np.flatnonzero(keep))


def _dominated_share(run_dir: Path) -> tuple[str, float] | None:
    """The best LS-settings search of a run (largest final HV) and the share of its own non-dominated
    points that some point of the run's gradient fronts (every space) dominates; None without one."""
    summary, front = load_run(run_dir)
    searches = [n for n in summary["solvers"] if n in REGISTRY and REGISTRY[n].space in LS_SPACES]
    if not searches:
        return None
    best = max(searches, key=lambda n: summary["solvers"][n]["hv"] or 0.0)
    gradient = np.isin(front.solver.astype(str), [n for n in front.solvers
                                                 if n in REGISTRY and REGISTRY[n].family == "gradient"])
    mine = front.F[front.solver == best]
    mine = mine[nondominated_mask(mine)]
    G = front.F[gradient]
    dominated = [bool(((G <= p).all(axis=1) & (G < p).any(axis=1)).any()) for p in mine]
    return best, float(np.mean(dominated)) if dominated else float("nan")


def _unseeded(table: pd.DataFrame) -> pd.DataFrame:
    """Per run, budget and space (last-layer, lora): the best unseeded evolutionary HV, the full genome's
    (``nsga2-<space>``) or a low-dimensional genome's of that space, against the space's gradient HV; and
    the best unseeded evolutionary HV of any space against the best full-space gradient HV. ``table`` is
    ``budget_table`` of runs without the searches that continue a gradient sweep."""
    rows = []
    for (run, budget), part in table.groupby(["run_index", "budget_multiple"]):
        by_space = part.set_index("space")
        full_gradient = float(part.full_gradient_hv.dropna().max()) if part.full_gradient_hv.notna().any() \
            else float("nan")
        for space in SAME_SPACES:
            members = [space, *(k for k, v in SUBSPACE_OF.items() if v == space)]
            evo = [(float(by_space.loc[m, "evolutionary_hv"]), str(by_space.loc[m, "evolutionary_solver"]))
                   for m in members if m in by_space.index and pd.notna(by_space.loc[m, "evolutionary_hv"])]
            gradient = float(by_space.loc[space, "gradient_hv"]) if space in by_space.index else float("nan")
            hv, solver = max(evo) if evo else (float("nan"), "")
            rows.append({"run_index": run, "budget_multiple": budget, "space": space, "evolutionary": solver,
                         "evolutionary_hv": hv, "gradient_hv": gradient, "ratio": hv / gradient,
                         "vs_full": hv / full_gradient})
        evo_any = part[part.space != "all-parameters"].evolutionary_hv.dropna()
        best = part.loc[evo_any.idxmax()] if len(evo_any) else None
        rows.append({"run_index": run, "budget_multiple": budget, "space": "any (unseeded)",
                     "evolutionary": "" if best is None else str(best.evolutionary_solver),
                     "evolutionary_hv": float("nan") if best is None else float(best.evolutionary_hv),
                     "gradient_hv": full_gradient, "ratio": float("nan"),
                     "vs_full": (float("nan") if best is None else float(best.evolutionary_hv))
                     / full_gradient})
    return pd.DataFrame(rows)


def _unseeded_markdown(unseeded: pd.DataFrame) -> list[str]:
    grouped = unseeded.groupby(["space", "budget_multiple"], sort=False)
    out = grouped[["evolutionary_hv", "gradient_hv", "ratio", "vs_full"]].mean()
    out["min_ratio"], out["min_vs_full"] = grouped.ratio.min(), grouped.vs_full.min()
    out["evolutionary"] = grouped.evolutionary.agg(lambda v: "/".join(sorted(set(map(str, v)) - {""})))
    lines = ["| space | budget | best unseeded evolutionary | HV | same-space gradient HV | ratio (min over "
             "seeds) | vs best full-space gradient (min) |", "|---|---|---|---|---|---|---|"]
    for (space, budget), r in out.sort_index(level=1, sort_remaining=False).iterrows():
        if np.isnan(r.evolutionary_hv) and np.isnan(r.gradient_hv):  # a space no solver of the run searched
            continue
        gradient = _fmt(r.gradient_hv) if space in SAME_SPACES else f"(full space) {_fmt(r.gradient_hv)}"
        lines.append(f"| {space} | {budget:g}× | {r.evolutionary} | {_fmt(r.evolutionary_hv)} | {gradient} | "
                     f"{_fmt(r.ratio)} ({_fmt(r.min_ratio)}) | {_fmt(r.vs_full)} ({_fmt(r.min_vs_full)}) |")
    return lines


def _unseeded_goals(unseeded: pd.DataFrame) -> list[str]:
    lines = []
    for space in SAME_SPACES:
        for budget, goal in ((10, 0.9), (2, 0.7)):
            rows = unseeded[(unseeded.space == space) & (unseeded.budget_multiple == budget)]
            if len(rows) and rows.ratio.notna().any():
                worst = float(rows.ratio.min())
                verdict = "met" if worst >= goal else "missed"
                lines.append(f"- same space, unseeded, {space} (any genome of it) at {budget}×: smallest "
                             f"ratio over seeds {_fmt(worst)} (goal ≥ {goal}): **{verdict}**")
    rows = unseeded[(unseeded.space == "any (unseeded)") & (unseeded.budget_multiple == 10)]
    if len(rows) and rows.vs_full.notna().any():
        worst = float(rows.vs_full.min())
        lines.append(f"- across spaces, unseeded: the best unseeded evolutionary front at 10× against the "
                     f"best full-space gradient front, smallest over seeds {_fmt(worst)} (goal ≥ 0.9): "
                     f"**{'met' if worst >= 0.9 else 'missed'}**")
    return lines


def _limits(run_dir: Path, quick: bool) -> list[str]:
    """What holds plain NSGA-II back: the same search with ten times the generations (far past the 10×
    budget), the genomes and operators at one search size, against the same-space ls sweeps of the run (the
    space's reach), and where the ls-lora points lie relative to θ0's singular directions."""
    summary, front = load_run(run_dir)
    task = load_task(TASK, forget=summary["task"]["forget"], seed=int(summary["task"]["seed"]),
                     progress=False)
    objectives = make_objectives(task)
    ref = np.asarray(hv_reference_point(task, objectives))
    evaluator = MetricEvaluator(task)  # one for every run below (its θ0 metrics are computed once)
    settings = default_settings(TASK, quick=quick)[f"nsga2-{LastLayerSpace.name}"]
    lines = []
    for factor in (1, 10):
        solver = EvolutionarySolver(space=LastLayerSpace(), pop_size=settings["pop_size"],
                                    n_gen=settings["n_gen"] * factor, seed=int(summary["task"]["seed"]),
                                    progress=False)
        run = solver.run(task, objectives, evaluator=evaluator)
        lines.append(f"{solver.name} with {factor}× its generations ({solver.n_gen}): HV "
                     f"{hypervolume(run.F, ref):.3f} after {float(np.max(run.cost['wall_s'])):.1f} s")
    pop, n_gen = (20, 15) if quick else (40, 100)
    low_eta = {"crossover_eta": 5.0, "mutation_eta": 5.0}
    genomes: list[tuple[Any, dict[str, Any]]] = [
        (LastLayerSVDSpace(), {}), (LastLayerSVDSpace(), low_eta),
        (LastLayerSVDSpace(), {"algorithm": "sms-emoa"}),
        (ProjectionSpace(dims=30), {}), (LoRASVDSpace(), {}), (LoRASVDSpace(), low_eta),
        (LoRASVDSpace(k=16), {}), (LoRASVDSpace(free_a=False, k=None), {}),
        (ProjectionSpace(over="lora", dims=32), {}), (LoRAActivationSpace(), {}),
        (LoRAActivationSpace(), {"algorithm": "nsde"}), (LoRASpace(), {"algorithm": "nsde"})]
    if quick:  # the SVD genome against a random slice of its dimension
        genomes = [genomes[0], genomes[3]]
    # the genome (θ0's SVD against random slices of the same dimension) and the operators
    for space, operators in genomes:
        solver = EvolutionarySolver(space=space, pop_size=pop, n_gen=n_gen, seed=int(summary["task"]["seed"]),
                                    progress=False, **operators)
        run = solver.run(task, objectives, evaluator=evaluator)
        label = f"{solver.name} {space!r} ({solver.n_var_} dims)" + (f" {operators}" if operators else "")
        lines.append(f"{label}, pop {pop} × {n_gen} generations: HV {hypervolume(run.F, ref):.3f} after "
                     f"{float(np.max(run.cost['wall_s'])):.1f} s")
    for space_name in (LastLayerSpace.name, "lora"):
        sweep = front.F[front.solver == f"ls-{space_name}"]
        if len(sweep):
            lines.append(f"the run's ls-{space_name} sweep: HV {hypervolume(sweep, ref):.3f}")
    lines.append(_lora_reach(task, front))
    return [f"- {line}" for line in lines if line]


def _lora_reach(task: Any, front: Any) -> str:
    """Where the run's ls-lora points moved each adapted layer: the share of |Δ|² inside θ0's top-k singular
    subspaces (U_k U_kᵀ Δ V_k V_kᵀ), which is all an SVD genome of rank k can reach, and |Δ| / |W0|."""
    rows = [i for i in np.flatnonzero(front.solver == "ls-lora") if front.nondominated()[i]]
    if not rows:
        return ""
    spec = front.rebuild[rows[0]]
    parts = []
    for name in spec["layers"]:
        W0 = dict(task.original.named_modules())[name].weight.detach().double()
        W0 = W0.reshape(len(W0), -1)
        U, _, Vt = torch.linalg.svd(W0, full_matrices=False)
        shares: dict[int, list[float]] = {4: [], 16: []}
        norms = []
        for i in rows:
            W = dict(rebuild_model(task, front, int(i)).named_modules())[name].weight.detach().double()
            D = W.reshape(len(W), -1) - W0
            norms.append(float(D.norm() / W0.norm()))
            for k in shares:
                inside = U[:, :k] @ (U[:, :k].T @ D @ Vt[:k].T) @ Vt[:k]
                shares[k].append(float((inside**2).sum() / (D**2).sum()))
        parts.append(f"{name}: {np.mean(shares[4]):.0%} (k = 4), {np.mean(shares[16]):.0%} (k = 16), "
                     f"|Δ| / |W0| {np.mean(norms):.2f}")
    return (f"the run's non-dominated ls-lora points ({len(rows)}): share of |Δ|² inside θ0's top-k singular "
            "subspaces of each adapted layer (all a rank-k SVD genome reaches), mean over points: "
            + "; ".join(parts))


def _mean(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["evolutionary_hv", "gradient_hv", "ratio", "vs_full_gradient", "space_vs_full"]
    grouped = table.groupby(["space", "budget_multiple"], sort=False)
    out = grouped[cols].mean()
    out["min_ratio"] = grouped["ratio"].min()
    out["min_vs_full_gradient"] = grouped["vs_full_gradient"].min()
    out["evolutionary"] = grouped["evolutionary_solver"].agg(lambda s: "/".join(sorted(set(map(str, s)))))
    out["gradient"] = grouped["gradient_solver"].agg(lambda s: "/".join(sorted(set(map(str, s)))))
    return out.reset_index()


def _fmt(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3f}"


def _markdown(mean: pd.DataFrame, spaces: tuple[str, ...]) -> list[str]:
    lines = ["| space | budget | best evolutionary | HV | best gradient | HV | ratio (min over seeds) | "
             "vs best full-space gradient | space / full space |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in mean[mean.space.isin(spaces)].iterrows():
        lines.append(f"| {r.space} | {r.budget_multiple:g}× | {r.evolutionary} | {_fmt(r.evolutionary_hv)} | "
                     f"{r.gradient} | {_fmt(r.gradient_hv)} | {_fmt(r.ratio)} ({_fmt(r.min_ratio)}) | "
                     f"{_fmt(r.vs_full_gradient)} | {_fmt(r.space_vs_full)} |")
    return lines


def _goals(mean: pd.DataFrame, plain: pd.DataFrame) -> list[str]:
    lines = []
    for label, table in (("with the seeded searches", mean), ("plain search only", plain)):
        for space in SAME_SPACES:
            rows = table[(table.space == space) & table.budget_multiple.isin([5, 10])]
            if rows.empty or rows.min_ratio.isna().all():  # no evolutionary search of the space ran
                continue
            worst = float(rows.min_ratio.min())
            verdict = "met" if worst >= 0.95 else "missed"
            lines.append(f"- same space, {space}, {label}: smallest ratio over seeds at 5× and 10× "
                         f"{_fmt(worst)} (goal ≥ 0.95): **{verdict}**")
    rows = mean[mean.space.isin(LS_SPACES) & mean.budget_multiple.isin([2, 5, 10])]
    if not rows.empty:
        best = rows.groupby("budget_multiple").min_vs_full_gradient.max()
        worst = float(best.min())
        verdict = "met" if worst >= 1.0 else "missed"
        lines.append(f"- across spaces: the best LS-settings search against the best full-space gradient "
                     f"family, smallest over seeds and over budgets 2×–10×: {_fmt(worst)} (goal ≥ 1.0): "
                     f"**{verdict}** (per budget: " + ", ".join(f"{b:g}× {_fmt(v)}" for b, v in best.items())
                     + ")")
    return lines


def _dense_goals(merged: pd.DataFrame) -> list[str]:
    lines = []
    for space in SAME_SPACES:
        rows = merged[(merged.space == space) & merged.budget_multiple.isin([5, 10])]
        if len(rows) and rows.ratio_dense.notna().any():
            worst = float(rows.ratio_dense.min())
            lines.append(f"- same space, {space}, against the dense same-space sweep: smallest ratio at 5× "
                         f"and 10× {_fmt(worst)} (goal ≥ 0.95): **{'met' if worst >= 0.95 else 'missed'}**")
    rows = merged[merged.space.isin(LS_SPACES) & merged.budget_multiple.isin([2, 5, 10])]
    if len(rows):
        best = rows.groupby(["run_index", "budget_multiple"]).vs_dense_full.max()
        worst = float(best.min())
        lines.append(f"- across spaces, against the dense full-space families: smallest over seeds and "
                     f"budgets 2×–10× {_fmt(worst)} (goal ≥ 1.0): **{'met' if worst >= 1.0 else 'missed'}**")
    return lines


def _figure(tables: dict[str, pd.DataFrame], path: Path) -> None:
    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4.2), squeeze=False)
    for ax, (forget, table) in zip(axes[0], tables.items(), strict=True):
        for space, part in table.groupby("space", sort=False):
            for side, style in (("evolutionary", "-"), ("gradient", "--")):
                means = part.groupby("budget_multiple")[f"{side}_hv"].mean()
                if means.notna().any():
                    name = part[f"{side}_solver"].dropna().astype(str).mode()
                    color = solver_color(name.iloc[0]) if len(name) else "#777777"
                    ax.plot(means.index, means.values, style, marker="o", color=color,
                            label=f"{space}: {side} ({name.iloc[0] if len(name) else '–'})")
        ax.set_xscale("log")
        ax.set_xticks(BUDGETS, [f"{b}×" for b in BUDGETS])
        ax.set_xlabel("budget (multiple of the cheapest full-space gradient front's wall-clock)")
        ax.set_ylabel("HV within the budget (mean over seeds)")
        ax.set_title(f"{TASK}, {forget}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The options that differ from the parser's defaults, as typed (the command that rewrites the
    markdown)."""
    flags = [" --quick" * args.quick, " --no-dense" * args.no_dense, " --no-limits" * args.no_limits]
    for name in ("task", "forgets", "seeds", "solvers", "md"):
        value = getattr(args, name)
        if value != parser.get_default(name):
            flags.append(f" --{name} {value}")
    return "".join(flags)


def main(argv: list[str] | None = None) -> list[str]:
    """Run the study; returns the lines of the written markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one forget set, one seed, tiny settings")
    parser.add_argument("--work", default="runs/fair_comparison", help="folder of the explore runs")
    parser.add_argument("--md", default="docs/fair_comparison.md", help="the markdown to write")
    parser.add_argument("--reuse", action="store_true", help="keep explore runs already in --work")
    parser.add_argument("--task", default="digits", help="the task explored (digits, fashion-mnist, ...)")
    parser.add_argument("--forgets", default=",".join(FORGETS), help="comma-separated forget sets")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds")
    parser.add_argument("--solvers", default=None,
                        help="explore only these solvers (comma-separated; default: explore's default list, "
                             "or a small list with --quick); the tables hold the spaces they search")
    parser.add_argument("--no-dense", action="store_true",
                        help="leave out the dense gradient sweeps (the gradient side is the default sweeps)")
    parser.add_argument("--no-limits", action="store_true",
                        help="leave out the section that reruns searches to measure what limits them")
    parser.add_argument("--explore-only", action="store_true",
                        help="only run the explores into --work (e.g. one process per forget set; then "
                             "--reuse writes the markdown)")
    args = parser.parse_args(argv)
    global TASK
    TASK = args.task
    work, md = Path(args.work), Path(args.md)
    forgets = tuple(f for f in args.forgets.split(",") if f)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    forgets, seeds = (forgets[:1], seeds[:1]) if args.quick else (forgets, seeds)
    if args.explore_only:
        for forget in forgets:
            for s in seeds:
                _explore(forget, s, work / f"{forget.replace(':', '-')}-seed{s}", args.quick, args.reuse,
                         args.solvers)
        return []
    lines = ["# Evolutionary against gradient fronts: the same space, every budget", "",
             f"Written by `python scripts/fair_comparison.py{_flags(parser, args)}`: "
             f"`pareto-unlearn explore` on {TASK} (uniform reference, one torch thread"
             f"{'; solvers ' + args.solvers if args.solvers else ''}) for "
             f"{', '.join(forgets)} and seeds {', '.join(map(str, seeds))}, then `budget_table` "
             "(`pareto-unlearn compare RUN... --budgets 1,2,5,10`). A budget is a multiple of the run's "
             "cheapest full-space gradient front's total cost; every solver is cut at the same cost (its "
             "anytime log, set-up and seeding included). HV against the task's reference point; means over "
             "seeds. Definitions: [definitions.md](definitions.md). The low-dimensional genomes "
             "(`nsga2-last-layer-svd`, `nsga2-lora-svd`, `nsga2-lora-act`, and `nsde-lora-act`: the same "
             "genome as `nsga2-lora-act` searched with differential-evolution variation) search subspaces "
             "of the last-layer and LoRA spaces "
             "(every point of theirs is a point of that space, in its box): `compare --budgets` lists them "
             "as spaces of their own, and the 'unseeded' tables below count them as searches of the space "
             "they are part of, against the gradient side of the whole space.", ""]
    figure_tables = {}
    for forget in forgets:
        runs = [_explore(forget, s, work / f"{forget.replace(':', '-')}-seed{s}", args.quick, args.reuse,
                         args.solvers) for s in seeds]
        # one table per seed: each seed has its own θ0, so its own reference point and base cost
        per_seed = [budget_table([r], BUDGETS) for r in runs]
        table = pd.concat([t.assign(run_index=k) for k, t in enumerate(per_seed)], ignore_index=True)
        config = _dense_config(work / "dense.toml", args.quick)
        against_dense = None
        if not args.no_dense:
            dense_runs = [_explore_dense(forget, s, work / f"dense-{forget.replace(':', '-')}-seed{s}",
                                         config, args.reuse) for s in seeds]
            pairs = enumerate(zip(dense_runs, per_seed, strict=True))
            dense = pd.concat([budget_table([d], BUDGETS, base_cost=t.attrs["base_costs"][t["run"].iloc[0]])
                               .assign(run_index=k) for k, (d, t) in pairs], ignore_index=True)
            against_dense = _against_dense(table, dense)
        passes = pd.concat([budget_table([r], BUDGETS, axis="passes") for r in runs], ignore_index=True)
        plain = pd.concat([budget_table([_without_seeded(r)], BUDGETS) for r in runs], ignore_index=True)
        unseeded = _unseeded(pd.concat([budget_table([_without_seeded(r, NOT_UNSEEDED)], BUDGETS)
                                        .assign(run_index=k) for k, r in enumerate(runs)], ignore_index=True))
        mean, mean_passes, mean_plain = _mean(table), _mean(passes), _mean(plain)
        figure_tables[forget] = table
        base = ", ".join(f"{c:.2f} s ({n})" for c, n in zip(table.groupby("run").base_cost.first(),
                                                            table.groupby("run").base_solver.first(),
                                                            strict=True))
        lines += [f"## {forget}", "", f"Base cost per seed: {base}.", "",
                  "### Same space (wall-clock budgets)", "", *_markdown(mean, SAME_SPACES), "",
                  "Without the seeded searches (the plain evolutionary search alone):", "",
                  *_markdown(mean_plain, SAME_SPACES), "",
                  "### Unseeded evolutionary search against the gradient side of the whole space", "",
                  "Any genome of a space counts (the full genome or a low-dimensional one, e.g. "
                  "`nsga2-last-layer-svd` for last-layer); no search that continues a gradient sweep "
                  "(`-seeded`, the warm LS searches). The last rows: the best unseeded evolutionary front of "
                  "any space against the best full-space gradient front.", "",
                  *_unseeded_markdown(unseeded), "",
                  "### LS-settings searches against the full-space gradient families", "",
                  *_markdown(mean, LS_SPACES + ("all-parameters",)), "",
                  "### The same in sample-passes", "", *_markdown(mean_passes, SAME_SPACES + LS_SPACES), "",
                  "### The gradient side given the whole budget (denser sweeps)", "",
                  "The default sweeps stop early (`jd` at 1×, `ls` near 1.2×, `ls-last-layer` near 4×, "
                  "`ls-lora` near 7×). Here `jd`, `ls`, `ls-last-layer` and `ls-lora` run denser sweeps "
                  f"(`{config.name}`: more weights, learning rates and preference directions, spread-first) "
                  "in a second run of the same task and seed, read at the same absolute budgets; the "
                  "evolutionary side is the default run's.", ""]
        lines += (["Not run this time (`--no-dense`): the gradient side above is the default sweeps'.", ""]
                  if against_dense is None else [*_dense_markdown(against_dense), ""])
        lines += ["### Goals", "", *_unseeded_goals(unseeded), *_goals(mean, mean_plain),
                  *([] if against_dense is None else _dense_goals(against_dense))]
        shares = [share for share in map(_dominated_share, runs) if share is not None]
        if shares:
            lines += ["- not dominated: share of the best LS-settings search's own non-dominated points that "
                      "a gradient point of the same run (any space) dominates, per seed: "
                      + ", ".join(f"{name} {share:.0%}" for name, share in shares)]
        lines += [""]
        if forget == forgets[0] and not args.no_limits:
            lines += ["### What limits the plain search (seed 0, one torch thread)", "",
                      "The same search with ten times its generations, far past the 10× budget, against the "
                      "run's same-space ls sweep (what the space itself holds):", "",
                      *_limits(runs[0], args.quick), ""]
    figure = md.with_suffix(".png")
    _figure(figure_tables, figure)
    lines += [f"![HV within each budget]({figure.name})", ""]
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text("\n".join(lines))
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
