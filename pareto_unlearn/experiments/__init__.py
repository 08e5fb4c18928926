"""Experiments built from the parts: the paper's Table 1 (``table``) and Pareto exploration (``explore``)."""

from pareto_unlearn.experiments._explore import ExploreResult, explore
from pareto_unlearn.experiments._table import TABLE_ROWS, format_table, run_table

__all__ = ["TABLE_ROWS", "ExploreResult", "explore", "format_table", "run_table"]
