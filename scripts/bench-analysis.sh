#!/usr/bin/env bash
# Benchmarks of the household analysis and the welfare counterfactual (not tests), on the 19-country
# baseline (configs/ek19-baseline.toml, [analysis] country = "USA"): for 1 and 2 ranks, REPEAT times each,
# the US micro elasticities for all 18 partners (38 household solves), the unilateral 10 % counterfactual
# equilibrium, the EV of all 1000 states by both methods (--ev-method author and converged) and the
# decomposition of the gains (--decompose, with the converged run), with the
# EV's breakdown: household solves, Coleman steps, time per solve and per step (summed over the ranks) and
# peak memory per rank. Then the household solve on the large grid (N_a 1000, S 50) from `hat bench
# --large`, for the EV's cost there (modelled, not run: see BENCHMARKS.md). Prints medians and writes
# out/bench-analysis.json.
# Usage: bash scripts/bench-analysis.sh   (REPEAT=3 by default; LARGE=0 skips the large grid)
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
    for method in author converged; do
      # The converged run also decomposes the gains (its own timing in counterfactual.json).
      extra=(); [ "$method" = converged ] && extra=(--decompose)
      /usr/bin/time -f %M -o "$base-$method.rss" mpirun -np "$ranks" "$hat" counterfactual configs/ek19-baseline.toml \
        --baseline "$base" --experiment unilateral --ev-method "$method" "${extra[@]}" --out "$base/unilateral-$method" 2> "$base-$method.log"
    done
  done
done
if [ "${LARGE:-1}" != 0 ]; then
  mpirun -np 1 "$hat" bench --large --repetitions 3 --json "$out/large.json" > "$out/large.log" 2>&1
fi
/usr/bin/python3 - "$out" "$repeat" "$(git rev-parse --short HEAD)" <<'PY'
import json, os, statistics, sys, platform
out, repeat, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
med = statistics.median
rows = []
for ranks in (1, 2):
    el, eq, dec = [], [], []
    ev = {"author": [], "converged": []}
    info = {}
    for k in range(1, repeat + 1):
        base = f"{out}/baseline-{ranks}-{k}"
        a = json.load(open(base + "/summary.json"))["analysis"]
        el.append(a["elasticities_wall_seconds"])
        for method in ev:
            c = json.load(open(f"{base}/unilateral-{method}/counterfactual.json"))
            assert c["ev_unconverged"] == 0 and c["ev_states"] == 1000 and c["ev_method"] == method
            if method == "author":
                eq.append(c["equilibrium_wall_seconds"])
            else:
                dec.append(c["decomposition_wall_seconds"])
            ev[method].append(c["equivalent_variation_wall_seconds"])
            # The whole mpirun's peak resident set (KiB, the largest process) from /usr/bin/time.
            rss = int(open(f"{base}-{method}.rss").read().split()[-1]) / 1024
            info[method] = {"solves": c["ev_household_solves"], "steps": c["ev_household_steps"],
                            "peak_rss_mib": rss}
    row = {"ranks": ranks, "repeats": repeat,
           "us_elasticities_seconds_median": med(el),
           "counterfactual_equilibrium_seconds_median": med(eq),
           "decomposition_seconds_median": med(dec)}
    for method, times in ev.items():
        t, i = med(times), info[method]
        row[f"ev_{method}"] = {"seconds_median": t, "household_solves": i["solves"], "coleman_steps": i["steps"],
                               "solves_per_state": i["solves"] / 1000,
                               "steps_per_solve": i["steps"] / i["solves"],
                               "cpu_ms_per_solve": 1000 * ranks * t / i["solves"],
                               "cpu_us_per_step": 1e6 * ranks * t / i["steps"],
                               "peak_rss_mib": i["peak_rss_mib"]}
    rows.append(row)
doc = {"commit": commit, "cores": os.cpu_count(), "cases": rows,
       "command": "bash scripts/bench-analysis.sh", "config": "configs/ek19-baseline.toml",
       "machine": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())}
large = f"{out}/large.json"
if os.path.exists(large):
    doc["large_grid"] = json.load(open(large))
json.dump(doc, open(f"{out}.json", "w"), indent=1)
print(f"{'ranks':>5} {'US elast. (s)':>13} {'cf eq. (s)':>10} {'decomp. (s)':>11} {'method':>10} {'EV (s)':>8} {'solves':>7} {'steps':>8} {'steps/solve':>11} {'ms/solve':>9} {'us/step':>8} {'RSS MiB':>8}")
for r in rows:
    for method in ("author", "converged"):
        e = r[f"ev_{method}"]
        print(f"{r['ranks']:>5} {r['us_elasticities_seconds_median']:>13.3f} {r['counterfactual_equilibrium_seconds_median']:>10.2f} {r['decomposition_seconds_median']:>11.2f} {method:>10} "
              f"{e['seconds_median']:>8.2f} {e['household_solves']:>7} {e['coleman_steps']:>8} {e['steps_per_solve']:>11.1f} "
              f"{e['cpu_ms_per_solve']:>9.2f} {e['cpu_us_per_step']:>8.1f} {e['peak_rss_mib']:>8.0f}")
if "large_grid" in doc:
    print("large grid (hat bench --large):", open(f"{out}/large.log").read().strip().splitlines()[-6:])
print(f"wrote {out}.json")
PY
