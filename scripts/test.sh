#!/usr/bin/env bash
# Set up, build in release mode, and run the whole test suite (unit tests in-process with MPI as a
# singleton; command-line tests under real mpirun with 1-3 ranks, real HDF5 files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# The Eaton–Kortum tests read the data beside the checkout (docs/CONFIGURATION-GUIDE.md, "Data worlds");
# it is not in the repository.
if [ ! -f ../shared/data/ek2002/ek-data.csv ]; then
  echo "test: ../shared/data (the Eaton-Kortum data and calibration files) is missing beside the checkout" >&2
  exit 1
fi
swift build -c release --build-tests
# The unit tests once more in a build that keeps preconditions and bounds checks in the kernels
# (HAT_CHECKED=1: -O instead of -Ounchecked), in its own build folder.
HAT_CHECKED=1 swift build -c release --build-tests --scratch-path .build-checked
# SlurmTests start a one-machine SLURM (slurm/local-cluster.sh, which installs slurm-wlm when missing) and
# stop it in their tearDown; should the test process itself die, stop it here.
trap 'bash slurm/local-cluster.sh stop /tmp/hat-slurm-tests >/dev/null 2>&1 || true' EXIT
total=0; failed=0; status=0
run() {   # label, swift test arguments...
  local label=$1; shift
  local log; log=$(mktemp)
  set +e
  swift test -c release --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  set -e
  local line; line=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
  rm -f "$log"
  local n f
  n=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
  f=$(echo "$line" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
  if [ -z "$n" ] || [ "$n" -eq 0 ]; then echo "test: $label: no tests were executed" >&2; status=1; return; fi
  echo "test: $label: $((n - f)) passed, $f failed"
  total=$((total + n)); failed=$((failed + f))
  [ "$code" -eq 0 ] || status=$code
}
run "release build" 
run "bounds-checked build (unit tests)" --scratch-path .build-checked --skip CLITests --skip SlurmTests
# A plain closing line: "N passed, N failed".
echo "$((total - failed)) passed, $failed failed"
exit "$status"
