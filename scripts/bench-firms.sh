#!/usr/bin/env bash
# Benchmarks of the firm world (not tests), REPEAT times each (default 5), medians:
# * two 19-country worlds on the Eaton-Kortum trade costs (the tau of configs/melitz-ek19.toml's gravity
#   calibration, the data's labour, productivity bound or median 1 everywhere, f_X = 8, f_D = 2, where
#   selection into exporting holds): Pareto (k 8.28) and lognormal (sigma 0.6), each solved from w = 1;
# * a 10 % US tariff on all imports in the Pareto world, by re-solve and by exact hat algebra;
# * hat firms simulate on the Appendix world: 10^6 and 10^7 entrant draws on 1 and 2 ranks, rows per second
#   and peak memory.
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
"$hat" calibrate configs/melitz-ek19.toml --out "$out/calibration" 2> "$out/calibration.log" || true
/usr/bin/python3 - "$out" "${HAT_DATA_DIR:-../shared/data}/ek2002/ek-labor.csv" <<'PY'
import csv, json, sys
out, labor_file = sys.argv[1], sys.argv[2]
c = json.load(open(f"{out}/calibration/calibration.json"))
m = len(c["countries"])
rows = list(csv.reader(open(labor_file)))
labour = [float(r[-1]) for r in rows[1:]][:m]
row = lambda v: "[" + ", ".join(repr(float(x)) for x in v) + "]"
mat = lambda a: "[" + ",\n  ".join(row(r) for r in a) + "]"
fixed = [[8.0 if i != n else 2.0 for i in range(m)] for n in range(m)]
for name, g in [("pareto", 'distribution = "pareto"\nshape = 8.28'), ("lognormal", 'distribution = "lognormal"\nlognormal_sigma = 0.6')]:
    open(f"{out}/{name}.toml", "w").write(f"""[firms]
sigma = 4.0
{g}
lower_bound = {row([1.0] * m)}
entry_cost = {row([1.0] * m)}
fixed_cost = {mat(fixed)}

[world]
countries = {json.dumps(c["countries"])}
labor = {row(labour)}
trade_costs = {mat(c["trade_costs"])}
""")
PY
for k in $(seq 1 "$repeat"); do
  for name in pareto lognormal; do
    "$hat" solve "$out/$name.toml" --out "$out/$name-$k" 2> "$out/$name-$k.log"
  done
  "$hat" counterfactual "$out/pareto.toml" --baseline "$out/pareto-$k" --experiment tariff --country USA \
    --out "$out/pareto-$k/cf" 2> "$out/pareto-cf-$k.log"
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
        d = json.load(open(pattern.format(k=k)))
        for f in field.split("."): d = d[f]
        values.append(d)
    return values
doc = {"commit": commit, "cores": os.cpu_count(), "repeats": repeat, "cases": {}}
cases = doc["cases"]
cases["pareto_19_solve_ms"] = 1000 * med(runs(out + "/pareto-{k}/summary.json", "equilibrium_wall_seconds"))
cases["lognormal_19_solve_ms"] = 1000 * med(runs(out + "/lognormal-{k}/summary.json", "equilibrium_wall_seconds"))
cases["pareto_19_tariff_resolve_ms"] = 1000 * med(runs(out + "/pareto-{k}/cf/counterfactual.json", "resolve_wall_seconds"))
cases["pareto_19_tariff_hat_algebra_ms"] = 1000 * med(runs(out + "/pareto-{k}/cf/counterfactual.json", "hat_algebra.wall_seconds"))
cases["pareto_19_hat_algebra_gap"] = max(runs(out + "/pareto-{k}/cf/counterfactual.json", "hat_algebra.max_gap_to_resolve"))
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
