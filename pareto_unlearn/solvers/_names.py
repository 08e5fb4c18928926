"""The names of the registered solvers: the registry's vocabulary, and the only place they are spelled.

Evolutionary solvers are named ``{algorithm}-{space}`` from their configuration (``nsga2-last-layer``,
``sms-emoa-ls-warm``); the others take their name from here. Everything else reads names through
:mod:`pareto_unlearn.solvers._registry`.
"""

__all__ = ["ALGORITHMS", "BASELINE_NAMES", "FT", "GA", "IU", "JD", "L1_SPARSE", "LS", "LS_WARM_SPACE",
           "LS_WEIGHTS_SPACE", "MOEAD", "NSDE", "NSGA2", "NSGA3", "RL", "SALUN", "SEEDED", "SMS_EMOA",
           "evolutionary_name", "jd_name"]

JD = "jd"  # Jacobian descent with UPGrad; other torchjd aggregators: ``jd-<aggregator>``
LS = "ls"  # linear scalarisation
FT, GA, IU, RL, SALUN, L1_SPARSE = "FT", "GA", "IU", "RL", "SalUn", "l1-sparse"  # the classic baselines
BASELINE_NAMES = (FT, GA, IU, L1_SPARSE, RL, SALUN)  # the order of the paper's Table 1

# An evolutionary solver's name: its pymoo algorithm, its space, and whether it continues a sweep.
NSGA2, SMS_EMOA, MOEAD, NSGA3 = "nsga2", "sms-emoa", "moead", "nsga3"
NSDE = "nsde"  # NSGA-II's survival with differential-evolution variation (Iorio & Li, 2004)
ALGORITHMS = (NSGA2, SMS_EMOA, MOEAD, NSGA3, NSDE)
LS_WEIGHTS_SPACE, LS_WARM_SPACE = "ls-weights", "ls-warm"  # the LS-settings searches' own spaces
SEEDED = "seeded"


def jd_name(aggregator: str) -> str:
    """The name of Jacobian descent with ``aggregator``.

    Examples
    --------
    >>> jd_name("upgrad"), jd_name("mgda")
    ('jd', 'jd-mgda')
    """
    return JD if aggregator == "upgrad" else f"{JD}-{aggregator}"


def evolutionary_name(algorithm: str, space: str, *, seeded: bool = False) -> str:
    """The name of an evolutionary search: ``{algorithm}-{space}``, ``-seeded`` when it continues a sweep.

    Examples
    --------
    >>> evolutionary_name(SMS_EMOA, LS_WARM_SPACE), evolutionary_name(NSGA2, "lora", seeded=True)
    ('sms-emoa-ls-warm', 'nsga2-lora-seeded')
    """
    return f"{algorithm}-{space}" + (f"-{SEEDED}" if seeded else "")
