"""The names of the registered solvers: the registry's vocabulary, and the only place they are spelled.

Evolutionary solvers are named ``{algorithm}-{space}`` from their configuration (``nsga2-last-layer``,
``sms-emoa-ls-warm``); the others take their name from here. Everything else reads names through
:mod:`pareto_unlearn.solvers._registry`.
"""

__all__ = ["BASELINE_NAMES", "FT", "GA", "IU", "JD", "L1_SPARSE", "LS", "RL", "SALUN", "jd_name"]

JD = "jd"  # Jacobian descent with UPGrad; other torchjd aggregators: ``jd-<aggregator>``
LS = "ls"  # linear scalarisation
FT, GA, IU, RL, SALUN, L1_SPARSE = "FT", "GA", "IU", "RL", "SalUn", "l1-sparse"  # the classic baselines
BASELINE_NAMES = (FT, GA, IU, L1_SPARSE, RL, SALUN)  # the order of the paper's Table 1


def jd_name(aggregator: str) -> str:
    """The name of Jacobian descent with ``aggregator``.

    Examples
    --------
    >>> jd_name("upgrad"), jd_name("mgda")
    ('jd', 'jd-mgda')
    """
    return JD if aggregator == "upgrad" else f"{JD}-{aggregator}"
