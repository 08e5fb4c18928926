#!/usr/bin/env bash
# The evolutionary searches against Jacobian descent and LS sweeps: digits MLP, random 50 % and class 3,
# uniform and heldout references, seeds 0-2. Seed 0 runs every front solver (and the stationarity gaps);
# seeds 1-2 run jd, ls and the two warm searches.
# Usage: bash scripts/evolutionary_vs_gradient.sh OUT_DIR
#   then python scripts/evolutionary_vs_gradient_table.py OUT_DIR
# Smaller runs (a smoke test, not a measurement): SEEDS="0" CASES="c-uni" SOLVERS=jd,ls,nsga2-ls-warm QUICK=1
#   (QUICK=1 passes --quick to explore and drops --stationarity).
set -euo pipefail
out=${1:?usage: evolutionary_vs_gradient.sh OUT_DIR}
seeds=${SEEDS:-0 1 2}
cases=${CASES:-r-uni r-held c-uni c-held}
quick=${QUICK:+--quick}
mkdir -p "$out"
for seed in $seeds; do
  if [ "$seed" = 0 ]; then
    solvers=nsga2-last-layer,nsga2-lora,nsga2-ls-weights,nsga2-ls-warm,sms-emoa-ls-warm,jd,ls
    extra=--stationarity
  else
    solvers=jd,ls,nsga2-ls-warm,sms-emoa-ls-warm; extra=
  fi
  solvers=${SOLVERS:-$solvers}
  if [ -n "$quick" ]; then extra=; fi
  for case in $cases; do
    case $case in
      r-uni) forget=random:0.5 reference=uniform ;;
      r-held) forget=random:0.5 reference=heldout ;;
      c-uni) forget=class:3 reference=uniform ;;
      c-held) forget=class:3 reference=heldout ;;
      *) echo "unknown case $case (r-uni, r-held, c-uni, c-held)" >&2; exit 2 ;;
    esac
    run="$out/s$seed-$case"
    pareto-unlearn explore --forget "$forget" --reference "$reference" --seeds "$seed" --solvers "$solvers" \
      --out "$run" --threads 1 --no-progress --force $quick
    pareto-unlearn compare "$run" --out "$run-cmp" --budget gradient $extra
  done
done
