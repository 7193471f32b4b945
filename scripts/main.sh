#!/usr/bin/env bash
# Set up, build in release mode, and run the main job: the two-country equilibrium on 2 MPI ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
swift build -c release
mpirun -np 2 .build/release/hat solve configs/two-country.toml
echo "main: outputs in out/two-country (summary.json, solution.h5)"
