#!/usr/bin/env bash
# Benchmarks (not tests): household kernel, one 19-country world evaluation on 1 and 2 ranks, the
# two-country equilibrium. Prints medians; JSON in out/bench-np1.json and out/bench-np2.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
swift build -c release
.build/release/hat bench --json out/bench-np1.json
mpirun -np 2 .build/release/hat bench --json out/bench-np2.json
