#!/usr/bin/env bash
# Issue 6's study: digits MLP, random 50 % and class 3, uniform and heldout references, seeds 0-2.
# Seed 0 runs every front solver (and the stationarity gaps); seeds 1-2 run jd, ls and the two warm searches.
# Usage: bash scripts/issue6_study.sh OUT_DIR   then   python scripts/issue6_table.py OUT_DIR
set -euo pipefail
out=${1:?usage: issue6_study.sh OUT_DIR}
mkdir -p "$out"
for seed in 0 1 2; do
  if [ "$seed" = 0 ]; then
    solvers=nsga2-last-layer,nsga2-lora,nsga2-ls-weights,nsga2-ls-warm,sms-emoa-ls-warm,jd,ls
    extra=--stationarity
  else
    solvers=jd,ls,nsga2-ls-warm,sms-emoa-ls-warm; extra=
  fi
  for case in "random:0.5 uniform r-uni" "random:0.5 heldout r-held" "class:3 uniform c-uni" \
              "class:3 heldout c-held"; do
    set -- $case
    run="$out/s$seed-$3"
    pareto-unlearn explore --forget "$1" --reference "$2" --seeds "$seed" --solvers "$solvers" --out "$run" \
      --threads 1 --no-progress --force
    pareto-unlearn compare "$run" --out "$run-cmp" --budget gradient $extra
  done
done
