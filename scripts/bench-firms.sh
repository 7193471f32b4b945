#!/usr/bin/env bash
# Benchmarks of the firm world (not tests), REPEAT times each (default 5), medians:
# * the 19-country Pareto world on the Eaton-Kortum data (configs/melitz-ek19.toml with f_X = 400, where
#   selection into exporting holds) solved from w = 1, and a 10 % US tariff on all imports by re-solve and by
#   exact hat algebra (a trade-cost cut would take the pairs floored at τ = 1 below 1);
# * the same trade costs with lognormal productivity (sigma 0.6, the medians at the calibrated lower bounds);
# * hat firms simulate: 10^6 and 10^7 entrant draws on 1 and 2 ranks, rows per second and peak memory.
# Timings are the outputs' own (equilibrium_wall_seconds, resolve_wall_seconds, hat_algebra.wall_seconds,
# simulate_wall_seconds), without process start-up. Prints a table and writes out/bench-firms.json.
# Usage: bash scripts/bench-firms.sh   (REPEAT=5; SIMULATE=0 skips the simulation)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
repeat=${REPEAT:-5}
out=out/bench-firms
rm -rf "$out"; mkdir -p "$out"
pareto=(--set firms.fixed_cost=400)
"$hat" calibrate configs/melitz-ek19.toml "${pareto[@]}" --out "$out/calibration" 2> "$out/calibration.log" || true
for k in $(seq 1 "$repeat"); do
  "$hat" solve configs/melitz-ek19.toml "${pareto[@]}" --out "$out/pareto-$k" 2> "$out/pareto-$k.log"
  "$hat" counterfactual configs/melitz-ek19.toml "${pareto[@]}" --baseline "$out/pareto-$k" --experiment tariff --country USA \
    --out "$out/pareto-$k/cf" 2> "$out/pareto-cf-$k.log"
done
/usr/bin/python3 - "$out" <<'PY'
# The lognormal world as an explicit configuration (countries, labour and trade costs of the solved Pareto world).
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/pareto-1/summary.json"))
c = json.load(open(f"{out}/calibration/calibration.json"))
m = len(s["countries"])
labour = [inc / w for inc, w in zip(s["income"], s["wages"])]
row = lambda v: "[" + ", ".join(repr(float(x)) for x in v) + "]"
mat = lambda a: "[" + ",\n  ".join(row(r) for r in a) + "]"
fixed = [[400.0 if i != n else 2.0 for i in range(m)] for n in range(m)]
text = f"""[firms]
sigma = 4.0
distribution = "lognormal"
lognormal_sigma = 0.6
lower_bound = {row(c["lower_bounds"])}
entry_cost = {row([1.0] * m)}
fixed_cost = {mat(fixed)}

[world]
countries = {json.dumps(s["countries"])}
labor = {row(labour)}
trade_costs = {mat(c["trade_costs"])}
"""
open(f"{out}/lognormal.toml", "w").write(text)
PY
for k in $(seq 1 "$repeat"); do
  "$hat" solve "$out/lognormal.toml" --out "$out/lognormal-$k" 2> "$out/lognormal-$k.log" || true
done
if [ "${SIMULATE:-1}" != 0 ]; then
  for ranks in 1 2; do
    for n in 1000000 10000000; do
      /usr/bin/time -f %M -o "$out/sim-$ranks-$n.rss" mpirun -np "$ranks" "$hat" firms simulate configs/melitz-appendix.toml \
        --firms "$n" --seed 1 --out "$out/sim-$ranks-$n" 2> "$out/sim-$ranks-$n.log"
    done
  done
fi
/usr/bin/python3 - "$out" "$repeat" "$(git rev-parse --short HEAD)" <<'PY'
import json, os, statistics, sys
out, repeat, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
med = statistics.median
def runs(pattern, field):
    values = []
    for k in range(1, repeat + 1):
        path = pattern.format(k=k)
        if not os.path.exists(path): continue
        d = json.load(open(path))
        for f in field.split("."): d = d[f]
        values.append(d)
    return values
doc = {"commit": commit, "cores": os.cpu_count(), "repeats": repeat, "cases": {}}
cases = doc["cases"]
p = runs(out + "/pareto-{k}/summary.json", "equilibrium_wall_seconds")
cases["pareto_19_solve_ms"] = 1000 * med(p)
cases["pareto_19_counterfactual_resolve_ms"] = 1000 * med(runs(out + "/pareto-{k}/cf/counterfactual.json", "resolve_wall_seconds"))
cases["pareto_19_hat_algebra_ms"] = 1000 * med(runs(out + "/pareto-{k}/cf/counterfactual.json", "hat_algebra.wall_seconds"))
cases["pareto_19_hat_algebra_gap"] = runs(out + "/pareto-{k}/cf/counterfactual.json", "hat_algebra.max_gap_to_resolve")[0]
ln = runs(out + "/lognormal-{k}/summary.json", "equilibrium_wall_seconds")
if ln: cases["lognormal_19_solve_ms"] = 1000 * med(ln)
sims = []
for ranks in (1, 2):
    for n in (1000000, 10000000):
        path = f"{out}/sim-{ranks}-{n}/simulate.json"
        if os.path.exists(path):
            s = json.load(open(path))
            rss = int(open(f"{out}/sim-{ranks}-{n}.rss").read().split()[-1]) / 1024
            sims.append({"ranks": ranks, "draws": n, "rows": s["rows"], "seconds": s["simulate_wall_seconds"],
                         "rows_per_second": s["rows_per_second"], "peak_rss_mib": rss})
doc["simulate"] = sims
json.dump(doc, open(f"{out}.json", "w"), indent=1)
for k, v in cases.items(): print(f"{k:40s} {v:.4g}")
for s in sims: print(f"simulate ranks {s['ranks']} draws {s['draws']:>9}: {s['rows']:>9} rows in {s['seconds']:.2f} s, {s['rows_per_second']:.3g} rows/s, peak {s['peak_rss_mib']:.0f} MiB")
print(f"wrote {out}.json")
PY
