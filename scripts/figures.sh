#!/usr/bin/env bash
# The figures of the 19-country baseline: solve it (with the US household analysis) and the unilateral 10 %
# counterfactual if their outputs are missing, then draw (scripts/figures.py). Usage: bash scripts/figures.sh
# (RANKS=2 by default). Writes out/ek19-baseline/figures/*.png. figures.py finds a python3 with h5py and
# matplotlib itself when the first one on PATH lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null
[ -x .build/release/hat ] || swift build -c release
ranks=${RANKS:-2}
base=out/ek19-baseline
[ -f "$base/solution.h5" ] || mpirun -np "$ranks" .build/release/hat solve configs/ek19-baseline.toml --out "$base"
[ -f "$base/counterfactual-unilateral/counterfactual.h5" ] || \
  mpirun -np "$ranks" .build/release/hat counterfactual configs/ek19-baseline.toml --baseline "$base" --experiment unilateral
python3 scripts/figures.py "$base" --counterfactual "$base/counterfactual-unilateral"
