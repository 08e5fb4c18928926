"""Experiments built from the parts: the paper's Table 1 (``table``), Pareto exploration (``explore``),
comparison of runs at equal cost (``compare``, ``seed_summary``) and reports."""

from pareto_unlearn.experiments._compare import (
    SeedSummary,
    budget_table,
    compare,
    parse_budgets,
    seed_summary,
    write_budgets,
    write_compare,
)
from pareto_unlearn.experiments._explore import ExploreResult, explore
from pareto_unlearn.experiments._families import compare_families
from pareto_unlearn.experiments._report import write_report
from pareto_unlearn.experiments._table import TABLE_ROWS, format_table, run_table

__all__ = [
    "TABLE_ROWS",
    "ExploreResult",
    "SeedSummary",
    "budget_table",
    "compare",
    "compare_families",
    "explore",
    "format_table",
    "parse_budgets",
    "run_table",
    "seed_summary",
    "write_budgets",
    "write_compare",
    "write_report",
]
