#!/usr/bin/env bash
# Benchmarks of the household analysis and the welfare counterfactual (not tests), on the 19-country
# baseline (configs/ek19-baseline.toml, [analysis] country = "USA"): for 1 and 2 ranks, REPEAT times each,
# the US micro elasticities for all 18 partners (38 household solves), the unilateral 10 % counterfactual
# equilibrium and the EV of all 1000 states. Prints medians and writes out/bench-analysis.json.
# Usage: bash scripts/bench-analysis.sh   (REPEAT=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
repeat=${REPEAT:-3}
out=out/bench-analysis
rm -rf "$out"; mkdir -p "$out"
for ranks in 1 2; do
  for k in $(seq 1 "$repeat"); do
    base=$out/baseline-$ranks-$k
    mpirun -np "$ranks" "$hat" solve configs/ek19-baseline.toml --out "$base" 2> "$base.log"
    mpirun -np "$ranks" "$hat" counterfactual configs/ek19-baseline.toml --baseline "$base" --experiment unilateral \
      --out "$base/unilateral" 2> "$base-cf.log"
  done
done
/usr/bin/python3 - "$out" "$repeat" "$(git rev-parse --short HEAD)" <<'PY'
import json, os, statistics, sys, platform
out, repeat, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for ranks in (1, 2):
    el, eq, ev, solves = [], [], [], []
    for k in range(1, repeat + 1):
        base = f"{out}/baseline-{ranks}-{k}"
        a = json.load(open(base + "/summary.json"))["analysis"]
        c = json.load(open(base + "/unilateral/counterfactual.json"))
        assert c["ev_unconverged"] == 0 and c["ev_states"] == 1000
        el.append(a["elasticities_wall_seconds"]); eq.append(c["equilibrium_wall_seconds"])
        ev.append(c["equivalent_variation_wall_seconds"]); solves.append(c["ev_household_solves"])
    rows.append({"ranks": ranks, "repeats": repeat,
                 "us_elasticities_seconds_median": statistics.median(el),
                 "counterfactual_equilibrium_seconds_median": statistics.median(eq),
                 "ev_1000_states_seconds_median": statistics.median(ev),
                 "ev_household_solves": solves[0]})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
doc = {"commit": commit, "machine": cpu, "cores": os.cpu_count(), "cases": rows,
       "command": "bash scripts/bench-analysis.sh", "config": "configs/ek19-baseline.toml"}
json.dump(doc, open(f"{out}.json", "w"), indent=1)
print(f"{'ranks':>5} {'US elasticities (s)':>20} {'cf equilibrium (s)':>19} {'EV 1000 states (s)':>19} {'EV solves':>10}")
for r in rows:
    print(f"{r['ranks']:>5} {r['us_elasticities_seconds_median']:>20.3f} {r['counterfactual_equilibrium_seconds_median']:>19.2f} "
          f"{r['ev_1000_states_seconds_median']:>19.2f} {r['ev_household_solves']:>10}")
print(f"wrote {out}.json")
PY
