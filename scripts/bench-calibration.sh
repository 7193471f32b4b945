#!/usr/bin/env bash
# Benchmarks of hat calibrate (not tests): the baseline calibration from the perturbed start
# (configs/ek19-calibrate.toml) on 1 rank, 2 ranks x 1 group and 2 ranks x 2 groups, then, with
# LARGE=1, one outer iteration (one Jacobian) of the same calibration on configs/ek19-large.toml.
# Prints a table and writes out/bench-calibration.json. Usage: bash scripts/bench-calibration.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
hat=.build/release/hat
[ -x "$hat" ] || swift build -c release
out=out/bench-calibration
rm -rf "$out"; mkdir -p "$out"
rows=()
run() {   # name ranks groups config extra...
  local name=$1 ranks=$2 groups=$3 config=$4; shift 4
  local dir=$out/$name
  local t0=$(date +%s.%N)
  set +e
  mpirun -np "$ranks" "$hat" calibrate "$config" --out "$dir" --groups "$groups" "$@" 2> "$dir.log"
  local status=$?
  set -e
  local t1=$(date +%s.%N)
  python3 - "$name" "$ranks" "$groups" "$status" "$(echo "$t1 - $t0" | bc)" "$dir" <<'PY' >> "$out/rows.jsonl"
import json, os, re, statistics, sys
name, ranks, groups, status, wall, d = sys.argv[1:]
log = open(d + ".log").read()
jac = [(float(a), int(b), float(c)) for a, b, c in re.findall(r"jacobian \d+: (\d+) columns on \d+ group\(s\), (\d+) world evaluations, ([\d.]+) s", log)]
ck = [float(x) for x in re.findall(r"checkpoint \d+ \(.*?\) written in ([\d.]+) s", log)]
cks = [os.path.getsize(os.path.join(d, "checkpoints", f)) for f in os.listdir(os.path.join(d, "checkpoints"))] if os.path.isdir(os.path.join(d, "checkpoints")) else []
try:
    c = json.load(open(os.path.join(d, "calibration.json")))
except Exception:
    c = {}
print(json.dumps({"case": name, "ranks": int(ranks), "groups": int(groups), "exit": int(status), "wall_seconds": float(wall),
                  "status": c.get("status"), "max_abs_gap": c.get("max_abs_gap"), "outer_iterations": c.get("outer_iterations"),
                  "jacobians": c.get("jacobians"), "world_evaluations": c.get("world_evaluations"),
                  "jacobian_seconds_median": statistics.median([j[2] for j in jac]) if jac else None,
                  "jacobian_world_evaluations": jac[0][1] if jac else None,
                  "checkpoint_write_seconds_median": statistics.median(ck) if ck else None,
                  "checkpoint_mib": max(cks) / 2**20 if cks else None}))
PY
}
run ek19-1rank 1 1 configs/ek19-calibrate.toml
run ek19-2ranks 2 1 configs/ek19-calibrate.toml
run ek19-2ranks-2groups 2 2 configs/ek19-calibrate.toml
if [ "${LARGE:-0}" = 1 ]; then
  run ek19-large-1-iteration 2 1 configs/ek19-large.toml --set calibration.max_iterations=1 \
    --set calibration.shift_log_tfp=0.1 --set calibration.shift_distance=-0.2 --set 'calibration.shift_dummies=[0.1,-0.1,0.1,-0.1]'
fi
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/rows.jsonl")]
json.dump(rows, open(sys.argv[1] + ".json", "w"), indent=1)
print(f"{'case':26} {'P':>2} {'G':>2} {'exit':>4} {'wall s':>8} {'gap':>9} {'outer':>5} {'jac':>3} {'evals':>5} {'jac s':>6} {'jac ev':>6} {'ckpt s':>7} {'ckpt MiB':>8}")
for r in rows:
    f = lambda v, fmt: format(v, fmt) if v is not None else "-"
    print(f"{r['case']:26} {r['ranks']:>2} {r['groups']:>2} {r['exit']:>4} {r['wall_seconds']:>8.1f} {f(r['max_abs_gap'], '9.2e')} {f(r['outer_iterations'], '>5')} {f(r['jacobians'], '>3')} {f(r['world_evaluations'], '>5')} {f(r['jacobian_seconds_median'], '6.1f')} {f(r['jacobian_world_evaluations'], '>6')} {f(r['checkpoint_write_seconds_median'], '7.3f')} {f(r['checkpoint_mib'], '8.1f')}")
PY
