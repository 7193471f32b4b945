#!/usr/bin/env bash
# Benchmarks of hat sweep (not tests) on the baseline grid (jobs/sigma-gamma.toml: N_a = 100, S = 5 x 2):
#   1. one point (sigma_eps 1/3, gamma 1.45: index 4) from the base start, on 1 rank and on 2 ranks;
#   2. the whole 3 x 3 grid on 2 ranks (2 rank groups), with each point's own wall time;
#   3. --target on 2 ranks from the grid's best point.
# Prints the figures and writes out/bench-sweep.json. Usage: bash scripts/bench-sweep.sh [SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
spec=${1:-jobs/sigma-gamma.toml}
out=out/bench-sweep
rm -rf "$out"; mkdir -p "$out"
timed() {   # name command...: wall seconds and exit code into $out/NAME.time
  local name=$1; shift
  local t0 t1 status
  t0=$(date +%s.%N)
  set +e; "$@" > "$out/$name.stdout" 2> "$out/$name.log"; status=$?; set -e
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc) $status" > "$out/$name.time"
  echo "$name: $(cat "$out/$name.time") (seconds, exit)"
}
timed point-1rank  mpirun -np 1 "$hat" sweep "$spec" --point 4 --out "$out/point-1rank"
timed point-2ranks mpirun -np 2 "$hat" sweep "$spec" --point 4 --out "$out/point-2ranks"
timed grid-2ranks  mpirun -np 2 "$hat" sweep "$spec" --out "$out/grid"
timed target-2ranks mpirun -np 2 "$hat" sweep "$spec" --target --out "$out/grid"
/usr/bin/python3 - "$out" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
def timing(name):
    wall, status = open(f"{out}/{name}.time").read().split()
    return {"wall_seconds": float(wall), "exit": int(status)}
def point(folder):
    p = f"{out}/{folder}/points/0004/point.json"
    return json.load(open(p)) if os.path.exists(p) else {}
rows = list(csv.DictReader(open(f"{out}/grid/sweep.csv"))) if os.path.exists(f"{out}/grid/sweep.csv") else []
target = json.load(open(f"{out}/grid/target/target.json")) if os.path.exists(f"{out}/grid/target/target.json") else {}
result = {
    "spec": "jobs/sigma-gamma.toml",
    "point_4": {r: dict(timing(f"point-{r}"), **{k: point(f"point-{r}").get(k) for k in
                ("status", "outer_iterations", "wall_seconds", "elasticity_poor", "elasticity_median")}) for r in ("1rank", "2ranks")},
    "grid_2ranks": dict(timing("grid-2ranks"), points=[{k: r[k] for k in ("index", "sigma_eps", "gamma", "status", "outer_iterations",
                        "wall_seconds", "elasticity_poor", "elasticity_median", "start_from", "reason")} for r in rows]),
    "target_2ranks": dict(timing("target-2ranks"), **{k: target.get(k) for k in
                          ("status", "sigma_eps", "gamma", "elasticity_poor", "elasticity_median", "iterations", "evaluations", "start")}),
}
json.dump(result, open(f"{out}.json", "w"), indent=2)
print(json.dumps(result, indent=2))
PY
