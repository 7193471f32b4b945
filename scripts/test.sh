#!/usr/bin/env bash
# Set up, build in release mode, and run the whole test suite (unit tests in-process with MPI as a
# singleton; command-line tests under real mpirun with 1-3 ranks, real HDF5 files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
# The Eaton–Kortum tests read the data beside the checkout (README "Data"); it is not in the repository.
if [ ! -f ../shared/data/ek2002/ek-data.csv ]; then
  echo "test: ../shared/data (the Eaton-Kortum data and calibration files) is missing beside the checkout" >&2
  exit 1
fi
swift build -c release --build-tests
log=$(mktemp)
set +e
swift test -c release --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# A plain closing line: "N passed, N failed".
line=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1)
total=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$line" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
rm -f "$log"
if [ -z "$total" ] || [ "$total" -eq 0 ]; then echo "test: no tests were executed" >&2; exit 1; fi
echo "$((total - failed)) passed, $failed failed"
exit "$status"
