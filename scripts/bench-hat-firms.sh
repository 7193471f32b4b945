#!/usr/bin/env bash
# Benchmark (not a test): the HAT equilibrium with Melitz firms inside the composites against plain HAT, on
# 2 ranks, REPEAT times each (default 3), medians of summary.json's wall_seconds:
# * 19 countries: configs/melitz-hat-ek19.toml against configs/ek19-baseline.toml, both from the committed
#   wage guess (plain HAT's root: plain HAT needs one iteration there, the world with firms is re-solved);
# * 2 countries: configs/melitz-hat-two-country.toml against configs/two-country-log.toml, from equal wages.
# The [analysis] table is dropped, so the time is the equilibrium and its reporting evaluation. Prints the
# wall time, iterations, world evaluations and seconds per evaluation, and writes out/bench-hat-firms.json.
# Usage: bash scripts/bench-hat-firms.sh   (REPEAT=3)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
repeat=${REPEAT:-3}
out=out/bench-hat-firms
rm -rf "$out"; mkdir -p "$out"
for name in ek19-baseline melitz-hat-ek19 two-country-log melitz-hat-two-country; do
  # Without [analysis]; data paths made absolute (the copy lives elsewhere).
  sed -e '/^\[analysis\]/,/^\[/{/^\[output\]/!d}' -e "s|\"\.\./\.\./shared|\"$(cd .. && pwd)/shared|" configs/$name.toml > "$out/$name.toml"
done
for k in $(seq 1 "$repeat"); do
  for name in ek19-baseline melitz-hat-ek19 two-country-log melitz-hat-two-country; do
    mpirun -np 2 "$hat" solve "$out/$name.toml" --out "$out/$name-$k" 2> "$out/$name-$k.log"
  done
done
/usr/bin/python3 - "$out" "$repeat" "$(git rev-parse --short HEAD)" <<'PY'
import json, os, statistics, sys
out, repeat, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
doc = {"commit": commit, "cores": os.cpu_count(), "ranks": 2, "repeats": repeat, "cases": {}}
for name in ["ek19-baseline", "melitz-hat-ek19", "two-country-log", "melitz-hat-two-country"]:
    s = [json.load(open(f"{out}/{name}-{k}/summary.json")) for k in range(1, repeat + 1)]
    wall = statistics.median(x["wall_seconds"] for x in s)
    ev = s[0]["world_evaluations"]
    doc["cases"][name] = {"wall_seconds": wall, "iterations": s[0]["iterations"], "world_evaluations": ev,
                          "seconds_per_evaluation": wall / ev, "status": s[0]["status"]}
c = doc["cases"]
doc["ratio_19"] = c["melitz-hat-ek19"]["wall_seconds"] / c["ek19-baseline"]["wall_seconds"]
doc["ratio_19_per_evaluation"] = c["melitz-hat-ek19"]["seconds_per_evaluation"] / c["ek19-baseline"]["seconds_per_evaluation"]
doc["ratio_2"] = c["melitz-hat-two-country"]["wall_seconds"] / c["two-country-log"]["wall_seconds"]
print(f"{'case':26s} {'wall s':>8s} {'iters':>6s} {'evals':>6s} {'s/eval':>8s}")
for name, v in c.items():
    print(f"{name:26s} {v['wall_seconds']:8.3f} {v['iterations']:6d} {v['world_evaluations']:6d} {v['seconds_per_evaluation']:8.4f}")
print(f"with firms / plain: 19 countries {doc['ratio_19']:.2f} (per evaluation {doc['ratio_19_per_evaluation']:.2f}), 2 countries {doc['ratio_2']:.2f}")
json.dump(doc, open(f"{out}.json", "w"), indent=1)
PY
