#!/usr/bin/env bash
# The README's comparison of the 19-country world with and without firms (not a test): the unilateral 10 %
# cut of US import costs in
# * plain HAT (configs/ek19-baseline.toml),
# * HAT's households with Melitz firms inside the composites (configs/melitz-hat-ek19.toml),
# * the representative-consumer Melitz world with the same firms, trade costs, labour and lower bounds.
# Prints a table (EV by US income quintile, ACR, the aggregate elasticity, firm margins) and writes
# out/firms-comparison.json. Usage: bash scripts/firms-comparison.sh   (about 3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
out=out/firms-comparison
rm -rf "$out"; mkdir -p "$out"
for name in ek19-baseline melitz-hat-ek19; do
  mpirun -np 2 "$hat" solve configs/$name.toml --out "$out/$name" 2> "$out/$name.log"
  mpirun -np 2 "$hat" counterfactual configs/$name.toml --baseline "$out/$name" --experiment unilateral --country USA \
    --out "$out/$name/us-cut" 2> "$out/$name-us-cut.log"
done
# The representative-consumer world with the firms, trade costs, labour and lower bounds of melitz-hat-ek19.
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/melitz-hat-ek19/summary.json"))
p = s["supply_parameters"]
row = lambda v: "[" + ", ".join(repr(float(x)) for x in v) + "]"
mat = lambda a: "[" + ",\n  ".join(row(r) for r in a) + "]"
open(f"{out}/melitz-representative.toml", "w").write(f"""[firms]
households = "representative"
sigma = {p["sigma"]}
distribution = "pareto"
shape = {p["shape"]}
lower_bound = {row(s["firms"]["lower_bounds"])}
entry = "free"
entry_cost = {row(p["entry_cost"])}
fixed_cost = {mat(p["fixed_cost"])}

[world]
countries = {json.dumps(s["countries"])}
labor = {row(s["world"]["labor"])}
trade_costs = {mat(s["world"]["trade_costs"])}
""")
PY
# (Its solve may fail: it is reported as such in the table.)
if "$hat" solve "$out/melitz-representative.toml" --out "$out/melitz-representative" 2> "$out/melitz-representative.log"; then
  "$hat" counterfactual "$out/melitz-representative.toml" --baseline "$out/melitz-representative" --experiment unilateral \
    --country USA --out "$out/melitz-representative/us-cut" 2> "$out/melitz-representative-us-cut.log" || true
fi
/usr/bin/python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
usa = lambda s: s["countries"].index("USA")
doc = {}
for name in ["ek19-baseline", "melitz-hat-ek19"]:
    s = json.load(open(f"{out}/{name}/summary.json")); c = json.load(open(f"{out}/{name}/us-cut/counterfactual.json"))
    u = usa(s)
    row = {"ev_quintiles_percent": c["ev_quintiles_percent"], "ev_mean_percent": c["ev_mean_percent"],
           "acr_percent": c["acr_percent"], "aggregate_elasticity": c["acr_elasticity"],
           "home_share_before": c["home_share_before"], "home_share_after": c["home_share_after"]}
    if "firms" in s:
        f = s["firms"]
        row["us_exporter_share"] = f["exporter_share"][u]
        row["us_domestic_sellers_share_of_entrants"] = f["sellers"][u][u] / f["entry_mass"][u]
        row["spending_elasticity"] = f["spending_elasticity"]
    doc[name] = row
rep_summary = f"{out}/melitz-representative/summary.json"
s = json.load(open(rep_summary)) if os.path.exists(rep_summary) else {"status": "not solved"}
rep_ok = s["status"] == "converged" and os.path.exists(f"{out}/melitz-representative/us-cut/counterfactual.json")
if rep_ok:
  c = json.load(open(f"{out}/melitz-representative/us-cut/counterfactual.json"))
  u = usa(s); f = s["firms"]
  doc["melitz-representative"] = {"welfare_change_percent": 100 * (c["welfare_change"][u] - 1),
                                "acr_percent": 100 * (c["acr_welfare_change"][u] - 1) if "acr_welfare_change" in c else None,
                                "aggregate_elasticity": f["elasticity"]["total"],
                                "home_share_before": s["trade_shares"][u][u],
                                "us_exporter_share": f["exporter_share"][u],
                                "us_domestic_sellers_share_of_entrants": f["sellers"][u][u] / f["entry_mass"][u]}
else:
  doc["melitz-representative"] = {"status": s["status"], "solver": s.get("solver")}
json.dump(doc, open(f"{out}.json", "w"), indent=1)
fmt = lambda x: "—" if x is None else f"{x:.3f}"
print("| | EV, US quintiles 1–5 (%) | mean EV (%) | ACR (%) | aggregate elasticity | US exporter share | US home share |")
print("|---|---|---|---|---|---|---|")
for name, label in [("ek19-baseline", "plain HAT"), ("melitz-hat-ek19", "HAT households, Melitz firms")]:
    r = doc[name]
    print(f"| {label} | {', '.join(f'{q:.3f}' for q in r['ev_quintiles_percent'])} | {r['ev_mean_percent']:.3f} | {r['acr_percent']:.3f} | {r['aggregate_elasticity']:.3f} | {fmt(r.get('us_exporter_share'))} | {r['home_share_before']:.4f} |")
r = doc["melitz-representative"]
if rep_ok:
    print(f"| representative consumer, Melitz firms | (one consumer) | {r['welfare_change_percent']:.3f} | {fmt(r['acr_percent'])} | {r['aggregate_elasticity']:.3f} | {fmt(r['us_exporter_share'])} | {r['home_share_before']:.4f} |")
else:
    why = open(f"{out}/melitz-representative.log").read().strip().splitlines()[-1:] or ["not converged"]
    print(f"| representative consumer, Melitz firms | not solved: {why[0][:160]} | | | | | |")
PY
