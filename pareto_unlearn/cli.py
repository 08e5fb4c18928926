"""The ``pareto-unlearn`` command line. Only this module prints; bad input → one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from pareto_unlearn import __version__
from pareto_unlearn._io import atomic_write_text
from pareto_unlearn._lock import run_lock
from pareto_unlearn._signals import exit_code, interruptible
from pareto_unlearn.bench import run_bench
from pareto_unlearn.config import RunConfig, load_config
from pareto_unlearn.distributed import connect, parse_dask_address, require_dask
from pareto_unlearn.exceptions import ConfigError, ParetoUnlearnError
from pareto_unlearn.experiments import (
    budget_table,
    compare,
    explore,
    parse_budgets,
    run_table,
    seed_summary,
    write_budgets,
    write_compare,
    write_report,
)
from pareto_unlearn.plotting import plot_attainment, save_figure
from pareto_unlearn.rundir import prepare_out_dir
from pareto_unlearn.selection_export import select_and_export
from pareto_unlearn.solvers import default_settings, solver_names

__all__ = ["main", "build_parser"]


def _task_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("task")
    g.add_argument("--config", help="TOML file with any of these settings; flags override it")
    g.add_argument("--task", help="digits (default, embedded), cifar10, cifar100, mnist, fashion-mnist")
    g.add_argument("--forget", help="random:R with R in (0, 1), or class:K[,K...]")
    g.add_argument("--model", help="mlp, cnn (digits, (fashion-)mnist) or resnet18")
    g.add_argument(
        "--size", help="small (10,000 training and 2,000 test images; default for mnist and fashion-mnist) "
        "or full"
    )
    g.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    g.add_argument("--device", help="auto (default), cpu or cuda")
    g.add_argument("--data-root", help="folder of the torchvision files (not needed for digits)")
    g.add_argument(
        "--download", action="store_true", default=None, help="let torchvision download missing files"
    )
    g.add_argument(
        "--cache-dir", help="model cache (default $PARETO_UNLEARN_CACHE or ~/.cache/pareto_unlearn)"
    )
    g.add_argument(
        "--batch-size", type=int, help="unlearning batch size (default 64 for digits, 256 otherwise)"
    )
    g.add_argument("--threads", type=int, help="torch CPU threads for this process")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def _run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoints"
    )
    parser.add_argument(
        "--dask", help="run independent work on Dask: local:N (N worker processes) or tcp://HOST:PORT"
    )


def _objective_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", help="uniform (default), heldout or heldout-marginal")
    parser.add_argument("--kl-direction", help="model-ref (default) or ref-model")
    parser.add_argument("--objectives", help="comma-separated, default forget_kl,retain_ce")


def _solvers_epilog() -> str:
    """The registered solvers by family, for ``--help`` (``explore --solvers`` takes any of them)."""

    lines = ["registered solvers (explore --solvers NAME,...):"]
    for family in ("evolutionary", "gradient", "baseline"):
        lines.append(textwrap.fill(", ".join(solver_names(family)), width=100, initial_indent=f"  {family}: ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``pareto-unlearn`` command line: its subcommands and their flags."""
    parser = argparse.ArgumentParser(
        prog="pareto-unlearn",
        description=(
            "Map the Pareto front of machine unlearning (forget_kl vs retain_ce) "
            "with NSGA-II and Jacobian descent."
        ),
        epilog=_solvers_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    parser.add_argument("--version", action="version", version=f"pareto-unlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("table", help="the paper's Table 1 layout on any task")
    _task_flags(p)
    p.add_argument("--out", required=True, help="output directory")
    _run_flags(p)

    p = sub.add_parser("explore", help="fronts of every solver on one task", epilog=_solvers_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _task_flags(p)
    _objective_flags(p)
    p.add_argument(
        "--solvers",
        help="comma-separated solver names, any of those `pareto-unlearn --help` lists (default: "
        "the evolutionary searches and the two gradient sweeps)",
    )
    p.add_argument("--baselines", action="store_true", help="add the classic baselines as points "
                   "(`pareto-unlearn --help` lists them)")
    p.add_argument("--quick", action="store_true", help="small settings")
    p.add_argument("--out", required=True, help="output directory")
    _run_flags(p)

    p = sub.add_parser("demo", help="the main job: every solver and baseline on digits, random 50 %%")
    _task_flags(p)
    _objective_flags(p)
    p.add_argument("--quick", action="store_true", help="small settings, under a minute with models cached")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    _run_flags(p)

    p = sub.add_parser("bench", help="measured speed ratios of the fast paths")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--compile", action="store_true", help="also time the optional torch.compile population path"
    )
    p.add_argument("--cache-dir", help="model cache")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-dask", action="store_true", help="skip the Dask speed-up (starts a cluster)")

    p = sub.add_parser("compare", help="compare the fronts of several runs at equal cost")
    p.add_argument("run_dirs", nargs="+", help="directories written by explore or demo")
    p.add_argument("--out", required=True, help="folder for compare.csv and compare.md")
    p.add_argument(
        "--budget",
        choices=("cheapest", "gradient"),
        default="cheapest",
        help="equal wall-clock budget of hv_at_budget_s: the cheapest solver's (default) or the gradient "
        "budget (when the best gradient front is within 1 %% of its final HV)",
    )
    p.add_argument(
        "--stationarity",
        action="store_true",
        help="also the median Pareto-stationarity gap of each solver's non-dominated points "
        "(rebuilds up to 10 models per solver)",
    )
    p.add_argument("--cache-dir", help="model cache holding θ0 (with --stationarity)")
    p.add_argument("--device", default=None, help="auto, cpu or cuda (with --stationarity)")
    p.add_argument(
        "--budgets",
        help="also write budgets.csv and budgets.md: each space's best evolutionary and gradient fronts "
        "within these multiples of the base cost (the cheapest full-space gradient front's), e.g. 1,2,5,10",
    )
    p.add_argument(
        "--budget-axis",
        choices=("wall_s", "passes"),
        default=None,
        help="count --budgets in wall-clock seconds (wall_s, default) or forward + backward sample-passes",
    )

    p = sub.add_parser(
        "report",
        help="write DIR/report.md (tables and figures) and DIR/report.html (interactive, self-contained)",
    )
    p.add_argument("run_dir", help="directory written by explore or demo")

    p = sub.add_parser("select", help="choose an operating point of a run and export it")
    p.add_argument("run_dir", help="directory written by explore or demo")
    p.add_argument(
        "--method", default="oracle-free", help="oracle-free (default), knee, preference, closest-to-retrain"
    )
    p.add_argument(
        "--constraint", action="append", default=[], help="e.g. 'RA >= 99' (repeatable, or comma-separated)"
    )
    p.add_argument("--weights", help="preference weights, comma-separated (with --method preference)")
    p.add_argument("--solver", help="choose among this solver's points only")
    p.add_argument("--export", help="write the chosen model here (.safetensors) with a JSON beside it")
    p.add_argument("--cache-dir", help="model cache")
    p.add_argument("--device", default=None, help="auto, cpu or cuda")
    return parser


def _quiet_dask(verbose: bool) -> None:
    """Dask's own INFO lines (scheduler and nanny start and stop) are not the user's business; importing
    ``distributed`` sets its loggers' levels, so this runs after that import."""
    if not verbose:
        import distributed  # noqa: F401

        logging.getLogger("distributed").setLevel(logging.WARNING)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )



def _run_config(args: argparse.Namespace, **forced):

    cfg = load_config(getattr(args, "config", None))
    overrides = {
        k: getattr(args, k, None)
        for k in (
            "task",
            "forget",
            "model",
            "size",
            "seeds",
            "device",
            "data_root",
            "download",
            "cache_dir",
            "batch_size",
            "threads",
            "reference",
            "kl_direction",
            "objectives",
            "solvers",
        )
    }
    overrides.update(forced)
    return cfg.merged(overrides)


@contextlib.contextmanager
def _dask_client(args: argparse.Namespace, cfg: RunConfig):
    """The client of ``--dask`` (closed afterwards), or None without the flag."""
    if not getattr(args, "dask", None):
        yield None
        return

    parse_dask_address(args.dask)  # a malformed address is refused before anything starts
    require_dask()  # one line and exit 2 without the dask extra
    _quiet_dask(getattr(args, "verbose", False))

    with connect(args.dask, threads=cfg.threads) as client:
        yield client


def _apply_threads(cfg: RunConfig) -> None:
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)


def _print_summary(summary: dict, out: Path, elapsed: float) -> None:
    import pandas as pd

    frame = pd.DataFrame(summary["solvers"]).T
    columns = [
        "hv",
        "hv_utility",
        "igd_plus",
        "n_points",
        "n_nondominated",
        "wall_s",
        "forward_passes",
        "backward_passes",
    ]
    print(frame[columns].to_string(float_format=lambda v: f"{v:.4g}"))
    o, r = summary["original"]["metrics"], summary["retrain"]["metrics"]
    print(
        f"Original: UA {o['UA']:.2f} RA {o['RA']:.2f} TA {o['TA']:.2f} MIA {o['MIA']:.2f} gap {o['gap']:.2f}"
    )
    print(f"Retrain:  UA {r['UA']:.2f} RA {r['RA']:.2f} TA {r['TA']:.2f} MIA {r['MIA']:.2f}")
    print(f"HV reference point: {summary['hv_reference_point']}")
    print(f"wrote {out}/ (points.csv, summary.json, fronts.png, splits.npz, front/) in {elapsed:.1f} s")


def _cmd_table(args: argparse.Namespace) -> int:

    cfg = _run_config(args)
    _apply_threads(cfg)
    start = time.perf_counter()
    with _dask_client(args, cfg) as client, run_lock(args.out):  # one run at a time writes --out
        out = prepare_out_dir(args.out, force=args.force, resume=args.resume)
        result = run_table(cfg, out, progress=not args.no_progress, client=client)
    print((out / "table.md").read_text())
    print(
        f"wrote {out}/ (table.md, table.csv, results.json, splits*.npz) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    _ = result
    return 0


def _cmd_explore(args: argparse.Namespace, *, demo: bool = False) -> int:

    # The demo is digits, random 50 %, every solver, unless a flag or --config says otherwise.
    forced = {"forget": args.forget or "random:0.5"} if demo and not args.config else {}
    cfg = _run_config(args, **forced)
    _apply_threads(cfg)
    if args.quick:
        settings = default_settings(cfg.task, quick=True)
        print("quick settings: " + "; ".join(f"{k}: {v}" for k, v in settings.items() if k in cfg.solvers))
    start = time.perf_counter()
    # a scheduler that does not answer leaves --out untouched; a second run on --out is refused at once
    with _dask_client(args, cfg) as client, run_lock(args.out):
        out = prepare_out_dir(args.out, force=args.force, resume=args.resume)
        for i, seed in enumerate(cfg.seeds):
            target = out if i == 0 else out / f"seed{seed}"
            result = explore(
                cfg,
                target,
                quick=args.quick,
                baselines=demo or getattr(args, "baselines", False),
                progress=not args.no_progress,
                seed=seed,
                client=client,
            )
            if len(cfg.seeds) > 1:
                print(f"seed {seed}:")
            _print_summary(result.summary, target, time.perf_counter() - start)
        if len(cfg.seeds) > 1:
            _write_seed_summary(out, [out if i == 0 else out / f"seed{s}" for i, s in enumerate(cfg.seeds)])
    return 0


def _write_seed_summary(out: Path, run_dirs: list[Path]) -> None:
    """HV mean ± 95 % interval per solver over seeds, and the median attainment surfaces."""

    summary = seed_summary(run_dirs)
    atomic_write_text(out / "seeds.csv", summary.table.to_csv(float_format="%.17g"))
    save_figure(plot_attainment(summary.surfaces), out / "attainment.png")
    print(summary.table.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {out}/seeds.csv and {out}/attainment.png ({len(run_dirs)} seeds)")


def _cmd_bench(args: argparse.Namespace) -> int:

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads}: threads must be an integer >= 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.no_dask:
        _quiet_dask(False)
    report = run_bench(
        quick=args.quick, cache_dir=args.cache_dir, progress=not args.json, compile=args.compile,
        dask=not args.no_dask,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, item in report["ratios"].items():
            goal = item.get("goal", "")
            print(
                f"{name:28s} {item['ratio']:8.2f}  (goal {goal}; "
                f"{item['numerator']}: {item['numerator_ms']:.3f} ms, "
                f"{item['denominator']}: {item['denominator_ms']:.3f} ms)"
            )
            for extra in ("plain_from_logits_ratio", "compiled_ratio", "warm_generations_ratio", "cnn_ratio",
                          "with_startup", "startup_s", "per_task_overhead_ms", "overhead_share_of_unit"):
                if extra in item:
                    print(f"{'':28s} {item[extra]:8.2f}  ({extra})")
        print(f"machine: {report['machine']}")
    return 0


def _cmd_select(args: argparse.Namespace) -> int:

    result = select_and_export(
        args.run_dir,
        method=args.method,
        constraints=args.constraint,
        weights=args.weights,
        solver=args.solver,
        export=args.export,
        cache_dir=args.cache_dir,
        device=args.device,
    )
    point = result["point"]
    print(f"chosen: solver {point['solver']} point {point['point']} ({args.method})")
    print(
        "  "
        + ", ".join(
            f"{k} {point[k]:.4g}" for k in (*result["objective_names"], "UA", "RA", "TA", "MIA", "gap")
        )
    )
    certainty = result.get("oracle_free")
    if certainty:
        print(f"predicted gap to Retrain {certainty['gap']:.2f} ({100 * certainty['level']:.0f} % interval "
              f"{certainty['low']:.2f}–{certainty['high']:.2f}), estimated without Retrain or test data")
        print(f"  {certainty['message']}")
    if args.export:
        print(
            f"wrote {args.export} and {result['json_path']}"
            + (f" and {result['adapter_path']}" if result.get("adapter_path") else "")
        )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:

    if args.budgets is None and args.budget_axis is not None:
        raise ConfigError("--budget-axis counts --budgets; give --budgets too, e.g. --budgets 1,2,5,10")
    budgets = None if args.budgets is None else parse_budgets(args.budgets)  # before anything is written
    frame = compare(args.run_dirs, budget_s=args.budget, stationarity=args.stationarity,
                    cache_dir=args.cache_dir, device=args.device)
    axis = args.budget_axis or "wall_s"
    table = None if budgets is None else budget_table(args.run_dirs, budgets, axis=axis)
    paths = write_compare(frame, args.out)
    shown = frame.drop(columns=[c for c in ("budget_s", "budget_passes") if c in frame.columns])
    print(shown.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {paths['csv']} and {paths['md']}")
    if table is not None:
        written = write_budgets(table, args.out)
        columns = ["run", "budget_multiple", "space", "evolutionary_solver", "evolutionary_hv",
                   "gradient_solver", "gradient_hv", "ratio", "vs_full_gradient", "space_vs_full"]
        print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"wrote {written['csv']} and {written['md']}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:

    locked = run_lock(args.run_dir) if Path(args.run_dir).is_dir() else contextlib.nullcontext()
    with locked:  # not while a run is writing the directory
        path = write_report(args.run_dir)
    print(f"wrote {path}")
    html = path.parent / "report.html"
    if html.exists():
        print(f"wrote {html}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 130 Ctrl-C, 143 SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "verbose", False))
    handlers = {
        "table": _cmd_table,
        "explore": _cmd_explore,
        "demo": lambda a: _cmd_explore(a, demo=True),
        "bench": _cmd_bench,
        "select": _cmd_select,
        "compare": _cmd_compare,
        "report": _cmd_report,
    }

    try:
        with interruptible():  # SIGTERM stops like Ctrl-C; no interrupt is lost in a destructor
            return handlers[args.command](args)
    except ParetoUnlearnError as exc:
        print(f"pareto-unlearn {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        code = exit_code(exc)
        name = "SIGTERM" if code == 143 else "Ctrl-C"
        out = getattr(args, "out", None)
        where = f"; the finished part is in {out} (complete: false), continue with --resume" if out else ""
        print(f"pareto-unlearn {args.command}: interrupted ({name}){where}", file=sys.stderr)
        return code


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (a message that quotes a file's text may hold line breaks)."""
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
