#!/usr/bin/env bash
# A one-machine SLURM cluster for testing the job scripts for real (../shared/docs/PLATFORM-NOTES.md):
# munge + slurmctld + slurmd started by hand (no systemd), everything under one state folder.
#
#   slurm/local-cluster.sh start [DIR]    install slurm-wlm if missing (root), write slurm.conf, start the
#                                         daemons, wait until the node is idle; prints `export SLURM_CONF=…`
#   slurm/local-cluster.sh status [DIR]   the daemons and `sinfo`
#   slurm/local-cluster.sh stop [DIR]     stop the daemons (also after a failed start)
#
# DIR defaults to $HAT_SLURM_DIR or /tmp/hat-slurm. Client commands need SLURM_CONF=DIR/etc/slurm.conf.
set -euo pipefail
cmd=${1:-status}
R=${2:-${HAT_SLURM_DIR:-/tmp/hat-slurm}}
export SLURM_CONF=$R/etc/slurm.conf
host=$(hostname -s)

stop() {
  if [ -f "$SLURM_CONF" ]; then scontrol shutdown >/dev/null 2>&1 || true; fi
  for pidfile in "$R/run/slurmd.pid" "$R/run/slurmctld.pid" "$R/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

case "$cmd" in
start)
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "local-cluster: need root to install slurm-wlm" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm >/dev/null
  fi
  stop
  # The daemons must not inherit the caller's descriptors: a caller that waits for end-of-file on a pipe
  # (a test runner capturing this script's output, `swift test | tee`) would otherwise wait forever.
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
  done
  mkdir -p "$R"/{etc,munge,state,spool,log,run}
  chmod 755 "$R/munge"
  [ -f "$R/munge/munge.key" ] || mungekey --create --keyfile="$R/munge/munge.key"
  chmod 600 "$R/munge/munge.key"
  munged --key-file="$R/munge/munge.key" --socket="$R/munge/munge.socket.2" --pid-file="$R/munge/munged.pid" \
         --log-file="$R/munge/munged.log" --seed-file="$R/munge/munged.seed" </dev/null >/dev/null 2>&1
  cpus=$(nproc)
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  cat > "$SLURM_CONF" <<CONF
ClusterName=hat
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$R/munge/munge.socket.2
StateSaveLocation=$R/state
SlurmdSpoolDir=$R/spool
SlurmctldPidFile=$R/run/slurmctld.pid
SlurmdPidFile=$R/run/slurmd.pid
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$R/log/jobcomp.txt
MailProg=/bin/true
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=${mem:-1024} State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld </dev/null >>"$R/log/slurmctld.stdio" 2>&1
  slurmd </dev/null >>"$R/log/slurmd.stdio" 2>&1
  for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      echo "local-cluster: up ($host, $cpus CPUs); export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.2
  done
  echo "local-cluster: the node did not become idle; logs in $R/log" >&2
  sinfo >&2 || true
  exit 1
  ;;
stop)
  stop
  echo "local-cluster: stopped"
  ;;
status)
  for d in munged slurmctld slurmd; do
    pidfile=$R/run/$d.pid; [ "$d" = munged ] && pidfile=$R/munge/munged.pid
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "$d: running"; else echo "$d: stopped"; fi
  done
  [ -f "$SLURM_CONF" ] && sinfo 2>/dev/null || true
  ;;
*)
  echo "usage: slurm/local-cluster.sh start|stop|status [DIR]" >&2; exit 2 ;;
esac
